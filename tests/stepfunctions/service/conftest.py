"""A Step Functions client of the session's local AWS."""

from __future__ import annotations

import pytest


@pytest.fixture
def sfn(aws):
    return aws("stepfunctions")
