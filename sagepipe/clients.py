"""Clients of the local AWS: boto3 clients, signed HTTP for its other routes, and the
environment that points any AWS client at it with the home's credentials."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import boto3
import httpx
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from sagepipe.config import Settings
from sagepipe.errors import AWSError

INTERNAL_SERVICE = "sagepipe"  # the signing name of the gateway's own routes (/_sagepipe/...)
# What the signer covers of an httpx request: the headers a client sets on purpose, not the
# ones the HTTP stack may still change (Connection, Accept-Encoding, User-Agent).
SIGNED_HEADERS = ("host", "content-type", "content-md5", "range")


def local_env(settings: Settings) -> dict[str, str]:
    """Variables that send boto3 and the AWS CLI to the local AWS instead of AWS, signing with
    the home's credentials (what `sagepipe env` prints, and what builds, jobs, model servers
    and Lambda functions run with)."""
    credentials = settings.credentials
    return {"AWS_ENDPOINT_URL": settings.endpoint_url, "AWS_DEFAULT_REGION": settings.region,
            "AWS_REGION": settings.region, "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            # Operations AWS serves on a host prefix (Step Functions' StartSyncExecution on
            # `sync-`) go to the endpoint itself: `sync-127.0.0.1` would not resolve.
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}


def client(settings: Settings, service: str) -> Any:
    credentials = settings.credentials
    return boto3.session.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key, region_name=settings.region,
    ).client(service, endpoint_url=settings.endpoint_url, config=Config(
        retries={"max_attempts": 2}, read_timeout=120, inject_host_prefix=False,
        # presigned S3 URLs in SigV4 too (boto3 presigns S3 with SigV2 unless told)
        signature_version="s3v4" if service == "s3" else None))


class SigV4(httpx.Auth):
    """Signs httpx requests for the local AWS as an AWS SDK would (S3 with its payload hash
    header): `httpx.get(url, auth=SigV4(settings))` for the gateway's own routes."""

    requires_request_body = True

    def __init__(self, settings: Settings, service: str = INTERNAL_SERVICE) -> None:
        credentials = settings.credentials
        signer = S3SigV4Auth if service == "s3" else SigV4Auth
        self.signer = signer(Credentials(credentials.access_key_id,
                                         credentials.secret_access_key), service, settings.region)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        signed = AWSRequest(method=request.method, url=str(request.url), data=request.content,
                            headers={name: value for name, value in request.headers.items()
                                     if name.lower() in SIGNED_HEADERS
                                     or name.lower().startswith("x-amz-")})
        self.signer.add_auth(signed)
        request.headers.update(dict(signed.headers))
        yield request


class Unreachable(RuntimeError):
    """The local AWS did not answer; the message names the call and the address."""


def internal(settings: Settings, method: str, path: str, body: dict[str, Any] | None = None,
             timeout: float = 120) -> Any:
    """Call one of the gateway's internal routes (`/_sagepipe/...`, plain JSON): the one place
    they are called from, so that how they are reached and authenticated is decided here.
    Returns the decoded answer (None for 204); raises the route's AWSError, or Unreachable."""
    url = f"{settings.endpoint_url}/_sagepipe/{path}"
    try:
        reply = httpx.request(method, url, json=body, auth=SigV4(settings), trust_env=False,
                              timeout=httpx.Timeout(timeout, connect=5))
        answer = reply.json() if reply.content else None
    except (httpx.HTTPError, ValueError) as exc:
        raise Unreachable(f"the local AWS did not answer {method} {url}: {exc}") from None
    if reply.is_error:
        error = answer if isinstance(answer, dict) else {}
        raise AWSError(str(error.get("__type", "InternalFailure")),
                       str(error.get("message", reply.text)), reply.status_code)
    return answer
