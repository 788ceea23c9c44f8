"""Session fixtures of tests/api and tests/qa: the example model trained once by real jobs and
one endpoint serving it. Test modules load them with `pytest_plugins = ["api.serving_fixtures"]`
(a plugin, so they run once per session for both folders)."""

from __future__ import annotations

import pytest
from api.serving_kit import create_endpoint, register_stub_image, train
from testkit import MODEL_IMAGE_URI, TEST_DATA

from sagepipe.clients import client
from sagepipe.config import Settings


@pytest.fixture(scope="session")
def images(local_aws: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session's local AWS (the example model registered), with the stub model server."""
    register_stub_image(local_aws, tmp_path_factory.mktemp("images"))
    return local_aws


@pytest.fixture(scope="session")
def training(images: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """training.json of the example model trained with its default hyperparameters."""
    return train(images, TEST_DATA / "titanic_train.csv", tmp_path_factory.mktemp("training"))


@pytest.fixture(scope="session")
def model_endpoint(images: Settings, training: dict) -> str:
    """An InService endpoint serving the trained example model."""
    return create_endpoint(client(images, "sagemaker"), MODEL_IMAGE_URI, training["ModelDataUrl"])
