"""boto3 clients for the local AWS, and the environment that points any AWS client at it."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from sagepipe.config import Settings

# The local AWS accepts any credentials; these keep SDKs from looking for real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def local_env(settings: Settings) -> dict[str, str]:
    """Variables that send boto3 and the AWS CLI to the local AWS instead of AWS."""
    return {"AWS_ENDPOINT_URL": settings.endpoint_url, "AWS_DEFAULT_REGION": settings.region,
            "AWS_REGION": settings.region, **LOCAL_CREDENTIALS}


def client(settings: Settings, service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test",  # noqa: S106 - local only
        region_name=settings.region,
    ).client(service, endpoint_url=settings.endpoint_url,
             config=Config(retries={"max_attempts": 2}, read_timeout=120))
