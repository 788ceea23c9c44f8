"""Constants and helpers shared by the test folders (import as `from testkit import ...`;
`conftest` cannot be imported by name once sub-folders have their own conftest.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagepipe.clients import client as client_for

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"  # small committed files, sources in its README
MODEL_IMAGE_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-model:test"

__all__ = ["MODEL_IMAGE_URI", "REPO", "TEST_DATA", "client_for", "free_port",
           "reject_when_asked"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reject_when_asked(history: Any, run: Callable[[], dict], comment: str,
                      timeout: float = 300) -> dict:
    """Run a pipeline execution in a thread, reject its manual approval as soon as it is
    requested (as `sagepipe reject` does), and return the finished execution."""
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(run()))
    worker.start()
    deadline = time.monotonic() + timeout
    while not history.pending() and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert history.pending(), "the execution never asked for approval"
    assert history.decide(history.pending()[0]["token"], False, comment)
    worker.join(timeout)
    return result
