"""Fixtures of the CloudWatch Logs tests."""

from __future__ import annotations

import pytest
from logs_kit import register_ticker


@pytest.fixture
def logs(aws):
    return aws("logs")


@pytest.fixture
def ticker(local_aws) -> str:
    """The ticker training image's URI (logs_kit.TRAIN), registered."""
    return register_ticker(local_aws)
