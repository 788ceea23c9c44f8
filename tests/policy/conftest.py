"""The templates the policies apply to: the three in the repository and the API's packaged one."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit import chalice_package

from .checkers_kit import REPO


@pytest.fixture(scope="session")
def packaged_api(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """chalice-api/ packaged as the PackageApi build does (CodePipeline/buildspecs/api.yml)."""
    out = chalice_package(tmp_path_factory.mktemp("api") / "package", "--stage", "prod",
                          "--merge-template", "../CodePipeline/api-parameters.json")
    return out / "sam.json"


@pytest.fixture(scope="session")
def templates(packaged_api: Path) -> dict[str, Path]:
    return {"pipeline": REPO / "CodePipeline" / "pipeline.yaml",
            "endpoint": REPO / "CloudFormation" / "endpoint.yaml",
            "batch-inference": REPO / "CloudFormation" / "batch-inference.yaml",
            "api": packaged_api}
