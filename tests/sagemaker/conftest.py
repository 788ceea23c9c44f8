"""Fixtures of the SageMaker tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from archive_kit import trained_model_archive
from jobs_kit import register_toy_image


@pytest.fixture
def sm(aws, local_aws):
    """A SageMaker client, with the toy job image registered."""
    register_toy_image(local_aws)
    return aws("sagemaker")


@pytest.fixture(scope="session")
def model_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example model trained once by its own entry points (archive_kit), as model.tar.gz:
    what the endpoint and batch transform tests serve."""
    return trained_model_archive(tmp_path_factory.mktemp("titanic"))
