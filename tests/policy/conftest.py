"""The templates the policies apply to: the three in the repository and the API's packaged one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .checkers import REPO

CHALICE = Path(sys.executable).parent / "chalice"


@pytest.fixture(scope="session")
def packaged_api(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """chalice-api/ packaged as the PackageApi build does (CodePipeline/buildspecs/api.yml)."""
    out = tmp_path_factory.mktemp("api") / "package"
    result = subprocess.run(
        [str(CHALICE), "package", "--stage", "prod",
         "--merge-template", "../CodePipeline/api-parameters.json", str(out)],
        cwd=REPO / "chalice-api", capture_output=True, text=True, check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")})
    assert result.returncode == 0, result.stderr
    return out / "sam.json"


@pytest.fixture(scope="session")
def templates(packaged_api: Path) -> dict[str, Path]:
    return {"pipeline": REPO / "CodePipeline" / "pipeline.yaml",
            "endpoint": REPO / "CloudFormation" / "endpoint.yaml",
            "batch-inference": REPO / "CloudFormation" / "batch-inference.yaml",
            "api": packaged_api}
