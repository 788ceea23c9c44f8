"""Fixtures of the SageMaker job tests."""

from __future__ import annotations

import pytest
from jobs_kit import register_toy_image


@pytest.fixture
def sm(aws, local_aws):
    """A SageMaker client, with the toy job image registered."""
    register_toy_image(local_aws)
    return aws("sagemaker")
