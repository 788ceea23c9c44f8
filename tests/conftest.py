"""Fixtures that start a real local AWS (a gateway process) and real boto3 clients for it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from testkit import MODEL_IMAGE_URI, REPO, aws_cli_v2, client_for, free_port

from sagepipe.config import Settings
from sagepipe.images import ImageRegistry
from sagepipe.server import start_background, stop
from sagepipe.store import Store

# Credentials for moto and the Stubber only: the local AWS refuses them, so every test that
# reaches it must use the credentials of its home (`client_for`, `local_env`, `signed_http`).
os.environ.update({"AWS_ACCESS_KEY_ID": "AKIAMOTOONLY00000000", "AWS_SECRET_ACCESS_KEY": "moto",
                   "AWS_DEFAULT_REGION": "us-east-1"})
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


# The tests the pipeline's UnitTests action runs in AWS (CodePipeline/buildspecs/test.yml:
# `pytest -m aws_unit`, with requirements/unit.txt installed): they read templates, policies and
# code, and need no local AWS. A module opts in with `pytestmark = pytest.mark.aws_unit`.
AWS_UNIT = "aws_unit"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m aws_unit`, a test module without the marker, or a folder without such a
    module, is not even imported (nor its conftest.py): it may import what the UnitTests action
    does not install (moto, hypothesis)."""
    if config.getoption("markexpr") != AWS_UNIT:
        return None
    if collection_path.is_dir():
        modules = collection_path.rglob("test_*.py")
    elif collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        modules = iter([collection_path])
    else:
        return None
    return not any(AWS_UNIT in module.read_text() for module in modules)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked aws_unit that asks for the local AWS is a mistake: refuse the run."""
    wrong = [item.nodeid for item in items if item.get_closest_marker(AWS_UNIT)
             and "local_aws" in getattr(item, "fixturenames", ())]
    if wrong:
        raise pytest.UsageError(f"marked {AWS_UNIT} but using the local AWS: {wrong}")


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One local AWS for the whole session, with the example model registered as an image."""
    settings = Settings(home=tmp_path_factory.mktemp("sagepipe-home"), port=free_port())
    start_background(settings)
    ImageRegistry(Store(settings.db_path)).register(REPO / "model", MODEL_IMAGE_URI)
    yield settings
    stop(settings)


@pytest.fixture
def aws(local_aws: Settings) -> Callable[[str], object]:
    """`aws("s3")` -> a real boto3 client pointed at the session's local AWS."""
    return lambda service: client_for(local_aws, service)


@pytest.fixture
def s3(aws):
    return aws("s3")


@pytest.fixture(scope="session")
def cli_v2() -> str:
    """The AWS CLI version 2's `aws` (for `aws logs tail`); the test is skipped without it."""
    path = aws_cli_v2()
    if path is None:
        pytest.skip("AWS CLI version 2 is not installed (`apt-get install awscli` on Debian 12, "
                    "or AWS's installer): `aws logs tail` is a v2 command")
    return path
