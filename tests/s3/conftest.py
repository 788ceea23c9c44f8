"""Fixtures for the local S3: a boto3 client, a fresh bucket per test, the AWS CLI, the disk."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from s3_kit import empty_bucket

from sagepipe.clients import local_env
from sagepipe.config import Settings

AWS_CLI = Path(sys.executable).with_name("aws")


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    """A new, empty bucket, deleted with whatever the test left in it."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    empty_bucket(s3, name)
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def cli(local_aws: Settings) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`cli("s3", "ls", ...)`: the real AWS CLI against the local AWS, with the credentials
    `sagepipe env` exports."""
    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AWS_CLI), "--endpoint-url", local_aws.endpoint_url, *args],
            capture_output=True, text=True, check=check, timeout=300,
            env={**os.environ, **local_env(local_aws)})
    return run

