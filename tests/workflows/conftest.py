"""The workflows on the session's local AWS (`local`), and the slow lane.

The workflows' Lambda code imports its modules by their bare names, as the Lambda runtime puts
the package root on sys.path: so do the tests.

Tests marked `slow` wait out what AWS would make them wait (a Retry's 15 s interval, which the
retail module does not let one shorten): they run only when asked, `pytest -m slow`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from testkit import unique

LAMBDAS = Path(__file__).resolve().parents[2] / "workflows" / "lambdas"
if str(LAMBDAS) not in sys.path:
    sys.path.insert(0, str(LAMBDAS))

from workflows_kit import LocalWorkflows  # noqa: E402 - after the path above


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: waits out real retry intervals; run with -m slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or ""):
        return
    lane = pytest.mark.skip(reason="slow lane: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(lane)


@pytest.fixture(scope="session")
def local(local_aws) -> LocalWorkflows:
    """The session's local AWS with the workflows' images registered and a bucket of theirs."""
    local = LocalWorkflows(local_aws, unique("workflows"))
    local.register_images()
    local.client("s3").create_bucket(Bucket=local.bucket)
    return local
