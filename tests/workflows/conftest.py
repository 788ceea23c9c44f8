"""The workflows on the session's local AWS (`local`).

The workflows' Lambda code imports its modules by their bare names, as the Lambda runtime puts
the package root on sys.path: so do the tests.
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


@pytest.fixture(scope="session")
def local(local_aws) -> LocalWorkflows:
    """The session's local AWS with the workflows' images registered and a bucket of theirs."""
    local = LocalWorkflows(local_aws, unique("workflows"))
    local.register_images()
    local.client("s3").create_bucket(Bucket=local.bucket)
    return local
