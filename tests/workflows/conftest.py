"""The workflows' Lambda code imports its modules by their bare names, as the Lambda runtime
puts the package root on sys.path: so do the tests."""

from __future__ import annotations

import sys
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[2] / "workflows" / "lambdas"
if str(LAMBDAS) not in sys.path:
    sys.path.insert(0, str(LAMBDAS))
