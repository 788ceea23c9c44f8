"""moto and botocore's Stubber stand in for AWS at its own endpoints."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def aws_endpoints(monkeypatch):
    """No AWS_ENDPOINT_URL (the local AWS's, say, in a developer's shell) to lead boto3 away."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
