"""The batch-inference functions' code imports its modules by their bare names, as the Lambda
runtime puts the package root on sys.path: so do the tests (and the model's own CSV parser
stands in for the endpoint in the plain-Python tests). The stacks on a local AWS of this
folder's own: inference_kit.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
for folder in (REPO / "batch-inference", REPO / "model"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from inference_kit import Deployed, deploy, packaged, prod_endpoint, start  # noqa: E402

from sagepipe.config import Settings  # noqa: E402
from sagepipe.server import stop  # noqa: E402


@pytest.fixture(scope="session")
def inference_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A local AWS of this folder's own (short Lambda retry waits), with the model image."""
    settings = start(tmp_path_factory.mktemp("batch-inference-home"))
    yield settings
    stop(settings)


@pytest.fixture(scope="session")
def template(inference_aws: Settings, tmp_path_factory: pytest.TempPathFactory) -> str:
    return packaged(inference_aws, tmp_path_factory.mktemp("package"))


@pytest.fixture(scope="session")
def deployed(inference_aws: Settings, template: str,
             tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    """The stack, scoring with a prod endpoint of the trained example model."""
    endpoint = prod_endpoint(inference_aws, tmp_path_factory.mktemp("training"), "bi")
    return deploy(inference_aws, template, "bi", endpoint)


@pytest.fixture(scope="session")
def without_endpoint(inference_aws: Settings, template: str) -> Deployed:
    """A second stack, whose endpoint does not exist."""
    return deploy(inference_aws, template, "bimiss", "bimiss-prod")
