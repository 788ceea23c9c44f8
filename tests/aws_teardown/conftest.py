"""Fixtures: a sagepipe deployment in moto's AWS (see teardown_kit), and an environment where
boto3 finds neither credentials nor a region."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from teardown_kit import AT_SCALE, SMALL, Deployed, deploy


@pytest.fixture
def deployed() -> Iterator[Deployed]:
    yield from deploy(SMALL)


@pytest.fixture
def deployed_at_scale() -> Iterator[Deployed]:
    yield from deploy(AT_SCALE)


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials and no region anywhere boto3 looks (and no instance metadata lookup)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
