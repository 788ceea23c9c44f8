"""The fixtures of the ds_stepfunctions tests (the golden chains are in sfn_kit.py)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

# Runs in the SageMaker SDK v3's own venv (test_sfn_sdk_venv.py), not in the project's.
collect_ignore = ["test_sfn_sagemaker_v3.py"]


@pytest.fixture
def sfn() -> Iterator[tuple[object, Stubber]]:
    """A real boto3 Step Functions client whose responses are stubbed (`Stubber`)."""
    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
