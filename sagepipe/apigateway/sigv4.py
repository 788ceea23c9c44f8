"""Signature Version 4 checks for IAM-authorized routes, with API Gateway's 403 answers.

A request passes when its `Authorization` header is a SigV4 signature, scoped to this region
and `execute-api`, made less than 5 minutes ago with a known access key, over exactly the
request received (canonical request as botocore and AWS build it, body hash included).
Query-string (presigned) signatures and session tokens are not emulated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW = dt.timedelta(minutes=5)
AMZ_DATE = "%Y%m%dT%H%M%SZ"
AUTHORIZATION = re.compile(
    rf"^{ALGORITHM} Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$")
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.")


class AuthFailure(Exception):
    """A 403 as API Gateway answers it: `x-amzn-ErrorType` and `{"message": ...}`."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _signature(secret: str, scope: list[str], string_to_sign: str) -> str:
    key = ("AWS4" + secret).encode()
    for part in scope:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def canonical_request(method: str, target: str, headers: Mapping[str, str],
                      signed: list[str], body: bytes) -> str:
    """`target` is the request line's path and query, as received (percent-encoded)."""
    parts = urlsplit(target)
    query = sorted(pair.partition("=")[::2] for pair in parts.query.split("&") if pair)
    return "\n".join([
        method.upper(),
        quote(normalize_url_path(parts.path), safe="/~"),
        "&".join(f"{key}={value}" for key, value in query),
        "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed),
        ";".join(signed),
        hashlib.sha256(body).hexdigest()])


def verify(method: str, target: str, headers: Mapping[str, str], body: bytes,
           secrets: Mapping[str, str], region: str, now: dt.datetime | None = None) -> str:
    """The access key that signed the request; AuthFailure if the signature does not hold."""
    headers = {name.lower(): value for name, value in headers.items()}
    authorization = headers.get("authorization")
    if not authorization:
        raise AuthFailure("MissingAuthenticationTokenException", "Missing Authentication Token")
    found = AUTHORIZATION.match(authorization.strip())
    if found is None:
        raise AuthFailure("IncompleteSignatureException", (
            f"Authorization header requires '{ALGORITHM} Credential=..., SignedHeaders=..., "
            f"Signature=...' (SigV4). Authorization={authorization}"))
    key, *scope = found["credential"].split("/")
    if key not in secrets:
        raise AuthFailure("UnrecognizedClientException",
                          "The security token included in the request is invalid.")
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(stamp, AMZ_DATE).replace(tzinfo=dt.UTC)
    except ValueError:
        raise AuthFailure("IncompleteSignatureException", "Authorization header requires "
                          "existence of a valid 'X-Amz-Date' header (YYYYMMDDTHHMMSSZ).") from None
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - signed_at) > MAX_SKEW:
        raise AuthFailure("InvalidSignatureException", (
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - MAX_SKEW).strftime(AMZ_DATE)} ({now.strftime(AMZ_DATE)} - 5 min.)"
            if signed_at < now else f"Signature not yet current: {stamp} is still later than "
            f"{(now + MAX_SKEW).strftime(AMZ_DATE)} ({now.strftime(AMZ_DATE)} + 5 min.)"))
    if scope != [stamp[:8], region, SERVICE, "aws4_request"]:
        raise AuthFailure("InvalidSignatureException", (
            f"Credential should be scoped to {stamp[:8]}/{region}/{SERVICE}/aws4_request, "
            f"not {'/'.join(scope)}."))
    signed = found["signed"].split(";")
    if "host" not in signed:
        raise AuthFailure("InvalidSignatureException", "'Host' must be a signed header.")
    request_hash = hashlib.sha256(
        canonical_request(method, target, headers, signed, body).encode()).hexdigest()
    expected = _signature(secrets[key], scope,
                          f"{ALGORITHM}\n{stamp}\n{'/'.join(scope)}\n{request_hash}")
    if not hmac.compare_digest(expected, found["signature"]):
        raise AuthFailure("InvalidSignatureException", MISMATCH)
    return key


def sign(method: str, url: str, body: bytes, access_key: str, secret_key: str,
         region: str, headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers of a request signed for an IAM-authorized API (botocore's signer), as any
    AWS SDK signs it: send them with `body` to `url`."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(access_key, secret_key), SERVICE, region).add_auth(request)
    return dict(request.headers)
