"""boto3 clients for the local AWS, and the environment that points any AWS client at it."""

from __future__ import annotations

from typing import Any

import boto3
import httpx
from botocore.config import Config

from sagepipe.config import Settings
from sagepipe.errors import AWSError

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


class Unreachable(RuntimeError):
    """The local AWS did not answer; the message names the call and the address."""


def internal(settings: Settings, method: str, path: str, body: dict[str, Any] | None = None,
             timeout: float = 120) -> Any:
    """Call one of the gateway's internal routes (`/_sagepipe/...`, plain JSON): the one place
    they are called from, so that how they are reached and authenticated is decided here.
    Returns the decoded answer (None for 204); raises the route's AWSError, or Unreachable."""
    url = f"{settings.endpoint_url}/_sagepipe/{path}"
    try:
        reply = httpx.request(method, url, json=body, trust_env=False,
                              timeout=httpx.Timeout(timeout, connect=5))
        answer = reply.json() if reply.content else None
    except (httpx.HTTPError, ValueError) as exc:
        raise Unreachable(f"the local AWS did not answer {method} {url}: {exc}") from None
    if reply.is_error:
        error = answer if isinstance(answer, dict) else {}
        raise AWSError(str(error.get("__type", "InternalFailure")),
                       str(error.get("message", reply.text)), reply.status_code)
    return answer
