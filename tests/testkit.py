"""Constants and helpers shared by the test folders (import as `from testkit import ...`;
`conftest` cannot be imported by name once sub-folders have their own conftest.py)."""

from __future__ import annotations

import socket
from pathlib import Path

from sagepipe.clients import client as client_for

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
MODEL_IMAGE_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-model:test"

__all__ = ["MODEL_IMAGE_URI", "REPO", "SHARED_DATA", "client_for", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
