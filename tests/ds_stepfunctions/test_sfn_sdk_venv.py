"""The SageMaker SDK v3 tests (test_sfn_sagemaker_v3.py) run for real in `make test`: in the
SDK's own venv (ci/checkers.sh sagemaker, built once and cached), since sagemaker v3 is ~1 GB and
never in the project's venv. Without conftest files: they need only ds_stepfunctions and sfn_kit.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from testkit import REPO

HERE = Path(__file__).parent


@pytest.mark.slow  # the SDK's 1 GB venv (built on first use)
def test_the_sdk_v3_tests_pass_in_the_sdks_own_venv(tmp_path):
    done = subprocess.run(
        [str(REPO / "ci/checkers.sh"), "sagemaker", "-m", "pytest", "-q", "--noconftest",
         "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'pytest'}",
         str(HERE / "test_sfn_sagemaker_v3.py")],
        cwd=REPO, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=1800, check=False)
    report = done.stdout[-4000:] + done.stderr[-4000:]
    assert done.returncode == 0, report
    assert " passed" in done.stdout and "skipped" not in done.stdout, report
