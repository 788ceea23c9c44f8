"""The one Signature Version 4 verifier: the gateway checks every request with it, the local
API Gateway (apigateway/frontend.py) every IAM-authorized route.

A request passes when it is signed, in the `Authorization` header or in the query string
(a presigned URL, with `X-Amz-Expires`), with a known access key, over exactly the request
received: the canonical request is built as botocore and AWS build it (S3's keeps the path as
sent, the others normalise and encode it again), the payload hash is `x-amz-content-sha256`
when sent (S3's `UNSIGNED-PAYLOAD` and `STREAMING-*` modes included) or the body's SHA-256.
A header signature must be at most `max_skew` old (15 minutes in AWS, 5 for API Gateway); a
presigned one until its expiry. Refusals say why (`Refusal`); each protocol names them with its
own error codes (`sagepipe.protocols`). Session tokens are not emulated.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, unquote_plus

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
MAX_SKEW = dt.timedelta(minutes=15)
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
PAYLOAD_HASH_HEADER = "x-amz-content-sha256"
PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                  "X-Amz-SignedHeaders", "X-Amz-Signature")
SIGV2 = ("The authorization mechanism you have provided is not supported. Please use "
         f"{ALGORITHM} (Signature Version 2 is not accepted; with boto3, presign S3 URLs with "
         "Config(signature_version='s3v4')).")
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.")


class Refusal(enum.Enum):
    MISSING = "no signature"
    INCOMPLETE = "a malformed signature"
    UNKNOWN_KEY = "an unknown access key"
    MISMATCH = "a wrong signature"
    EXPIRED = "a signature out of the time window"
    REQUEST_EXPIRED = "an expired presigned request"
    PAYLOAD_MISMATCH = "a body other than the signed one"
    FOREIGN_HOST = "a Host that is not a loopback name"


class AccessRefused(Exception):
    """Why a request is refused, with details S3 puts in its error document."""

    def __init__(self, refusal: Refusal, message: str, **extra: str) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class Signature:
    """A verified signature: who signed, for what scope, and the key that continues it (the
    chunk signatures of an S3 streaming upload chain from `signature`)."""

    access_key: str
    timestamp: str
    scope: str  # date/region/service/aws4_request
    signature: str
    payload_hash: str
    key: bytes = field(repr=False)

    @property
    def region(self) -> str:
        return self.scope.split("/")[1]

    def chained(self, kind: str, previous: str, digests: list[str]) -> str:
        """The signature of a piece that follows `previous` (`AWS4-HMAC-SHA256-PAYLOAD` for a
        chunk, `-TRAILER` for trailing headers)."""
        text = "\n".join([f"{ALGORITHM}-{kind}", self.timestamp, self.scope, previous, *digests])
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Received:
    """The parts of a request a signature covers: path and query exactly as sent."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # case-insensitive (starlette's Headers), or lower-case keys

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def header_values(self, name: str) -> list[str]:
        getlist = getattr(self.headers, "getlist", None)
        if getlist is not None:
            return list(getlist(name))
        value = self.headers.get(name)
        return [] if value is None else [value]


def signing_key(secret: str, scope: list[str]) -> bytes:
    return _derived_key(secret, tuple(scope))


@functools.lru_cache(maxsize=256)
def _derived_key(secret: str, scope: tuple[str, ...]) -> bytes:
    """Four HMACs, the same all day for a key, region and service: kept, as AWS's SDKs keep
    them (a quarter of the verification's cost on a small request)."""
    key = ("AWS4" + secret).encode()
    for part in scope:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_queries(query: str, excluded: tuple[str, ...] = ()) -> list[str]:
    """The query string's canonical forms, the one AWS builds first (each name and value
    decoded, then encoded as RFC 3986 says, sorted), then the forms clients sign when they
    encode differently: as sent (sorted, what botocore does with a URL it is given), and with
    `+` read as a space (HTML forms)."""
    if not query:
        return [""]
    pairs = [pair.partition("=")[::2] for pair in query.split("&") if pair]
    pairs = [(name, value) for name, value in pairs if unquote(name) not in excluded]
    forms = [sorted((quote(decode(name), safe="-_.~"), quote(decode(value), safe="-_.~"))
                    for name, value in pairs) for decode in (unquote, unquote_plus)]
    forms.insert(1, sorted(pairs))
    found: list[str] = []
    for form in forms:
        text = "&".join(f"{name}={value}" for name, value in form)
        if text not in found:
            found.append(text)
    return found


def canonical_request(request: Received, signed: list[str], payload_hash: str, *,
                      s3: bool, query: str) -> str:
    path = request.path if s3 else _canonical_path(request.path)
    headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in request.header_values(name))}\n"
        for name in signed)
    return "\n".join([request.method.upper(), path or "/", query, headers, ";".join(signed),
                      payload_hash])


@functools.lru_cache(maxsize=1024)
def _canonical_path(path: str) -> str:
    """The path as SigV4 signs it outside S3 (a client calls the same few paths again)."""
    return quote(normalize_url_path(path), safe="/~")


@dataclass(frozen=True)
class _Claim:
    """What the request says about its signature, from the header or the query string."""

    credential: str
    signed: list[str]
    signature: str
    timestamp: str
    signed_at: dt.datetime  # the timestamp, read
    expires: int | None  # presigned requests only


def _claim(request: Received) -> _Claim:
    authorization = request.header("authorization")
    if authorization:
        return _header_claim(request, authorization)
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    if any(name in query for name in PRESIGN_PARAMS):
        return _query_claim(query)
    if "AWSAccessKeyId" in query and "Signature" in query:
        raise AccessRefused(Refusal.INCOMPLETE, SIGV2)
    raise AccessRefused(Refusal.MISSING, "Request is missing Authentication Token")


def _header_claim(request: Received, authorization: str) -> _Claim:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm == "AWS":
        raise AccessRefused(Refusal.INCOMPLETE, SIGV2)
    parts = dict(part.strip().partition("=")[::2] for part in rest.split(",") if "=" in part)
    if algorithm != ALGORITHM or not all(parts.get(k) for k in
                                         ("Credential", "SignedHeaders", "Signature")):
        raise AccessRefused(Refusal.INCOMPLETE, (
            f"Authorization header requires '{ALGORITHM} Credential=..., SignedHeaders=..., "
            f"Signature=...' (SigV4). Authorization={authorization}"))
    stamp = request.header("x-amz-date") or ""
    signed_at = _timestamp(stamp)
    if signed_at is None:
        raise AccessRefused(Refusal.INCOMPLETE, "Authorization header requires existence of a "
                            "valid 'X-Amz-Date' header (YYYYMMDDTHHMMSSZ).")
    return _Claim(parts["Credential"], parts["SignedHeaders"].split(";"), parts["Signature"],
                  stamp, signed_at, None)


def _query_claim(query: Mapping[str, str]) -> _Claim:
    missing = [name for name in PRESIGN_PARAMS if not query.get(name)]
    if missing or query["X-Amz-Algorithm"] != ALGORITHM:
        raise AccessRefused(Refusal.INCOMPLETE, (
            f"A presigned request needs {', '.join(PRESIGN_PARAMS)} with X-Amz-Algorithm="
            f"{ALGORITHM}; missing or wrong: {', '.join(missing) or 'X-Amz-Algorithm'}."))
    expires = query["X-Amz-Expires"]
    if not expires.isdigit() or not 1 <= int(expires) <= MAX_PRESIGN_SECONDS:
        raise AccessRefused(Refusal.INCOMPLETE, "X-Amz-Expires must be a number of seconds from "
                            f"1 to {MAX_PRESIGN_SECONDS} (7 days).")
    signed_at = _timestamp(query["X-Amz-Date"])
    if signed_at is None:
        raise AccessRefused(Refusal.INCOMPLETE, "X-Amz-Date must be YYYYMMDDTHHMMSSZ.")
    return _Claim(query["X-Amz-Credential"], query["X-Amz-SignedHeaders"].split(";"),
                  query["X-Amz-Signature"], query["X-Amz-Date"], signed_at, int(expires))


def _timestamp(stamp: str) -> dt.datetime | None:
    """`stamp` (YYYYMMDDTHHMMSSZ, AMZ_DATE) as a UTC time; None if it is not one. Read by hand:
    strptime costs a tenth of a small request's whole verification."""
    digits = stamp[:8] + stamp[9:15]
    if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z" or not digits.isascii() \
            or not digits.isdigit():
        return None
    try:
        return dt.datetime(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]),
                           int(stamp[11:13]), int(stamp[13:15]), tzinfo=dt.UTC)
    except ValueError:
        return None


def _check_time(claim: _Claim, now: dt.datetime, max_skew: dt.timedelta) -> None:
    signed_at = claim.signed_at
    if signed_at - now > max_skew:
        server_time = now.strftime(AMZ_DATE)
        raise AccessRefused(Refusal.EXPIRED, (
            f"Signature not yet current: {claim.timestamp} is still later than "
            f"{(now + max_skew).strftime(AMZ_DATE)} ({server_time} + "
            f"{max_skew.seconds // 60} min.)"), RequestTime=claim.timestamp,
            ServerTime=server_time)
    if claim.expires is not None:
        if now > signed_at + dt.timedelta(seconds=claim.expires):
            raise AccessRefused(Refusal.REQUEST_EXPIRED, "Request has expired",
                                **{"X-Amz-Expires": str(claim.expires)},
                                Expires=(signed_at + dt.timedelta(seconds=claim.expires))
                                .strftime("%Y-%m-%dT%H:%M:%SZ"),
                                ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    elif now - signed_at > max_skew:
        server_time = now.strftime(AMZ_DATE)
        raise AccessRefused(Refusal.EXPIRED, (
            f"Signature expired: {claim.timestamp} is now earlier than "
            f"{(now - max_skew).strftime(AMZ_DATE)} ({server_time} - "
            f"{max_skew.seconds // 60} min.)"), RequestTime=claim.timestamp,
            ServerTime=server_time,
            MaxAllowedSkewMilliseconds=str(int(max_skew.total_seconds() * 1000)))


def _payload_hash(request: Received, claim: _Claim, body: bytes | None, s3: bool) -> str:
    """What the signature covers for the body: the hash the client declared (checked against
    the body when it is at hand), else S3's unsigned presigned payload, else the body's hash."""
    declared = request.header(PAYLOAD_HASH_HEADER)
    if declared:
        actual = hashlib.sha256(body).hexdigest() if body is not None else None
        if actual is not None and len(declared) == 64 and declared.lower() != actual:
            raise AccessRefused(Refusal.PAYLOAD_MISMATCH, "The provided 'x-amz-content-sha256' "
                                "header does not match what was computed.",
                                ClientComputedContentSHA256=declared,
                                S3ComputedContentSHA256=actual)
        return declared
    if s3 and claim.expires is not None:
        return UNSIGNED_PAYLOAD
    if body is None:
        raise AccessRefused(Refusal.INCOMPLETE, "Missing required header for this request: "
                            f"{PAYLOAD_HASH_HEADER} (the hex SHA-256 of the body, "
                            f"{UNSIGNED_PAYLOAD} or STREAMING-...).")
    return hashlib.sha256(body).hexdigest()


def verify(request: Received, secrets: Mapping[str, str], *, body: bytes | None,
           s3: bool = False, service: str | None = None, region: str | None = None,
           max_skew: dt.timedelta = MAX_SKEW, now: dt.datetime | None = None) -> Signature:
    """The signature of `request`; AccessRefused if it does not hold.

    `body` is the whole body, or None while it is still to be streamed (S3: the declared
    `x-amz-content-sha256` is then checked as the body arrives). `service` and `region`, when
    given, are the only scope accepted.
    """
    claim = _claim(request)
    key_id, *scope = claim.credential.split("/")
    if len(scope) != 4 or scope[3] != "aws4_request":
        raise AccessRefused(Refusal.INCOMPLETE, "Credential must have the form "
                            f"KEY/YYYYMMDD/REGION/SERVICE/aws4_request, not {claim.credential}.")
    if key_id not in secrets:
        raise AccessRefused(Refusal.UNKNOWN_KEY, "The security token included in the request "
                            "is invalid.", AWSAccessKeyId=key_id)
    _check_time(claim, now or dt.datetime.now(dt.UTC), max_skew)
    expected_scope = [claim.timestamp[:8], region or scope[1], service or scope[2],
                      "aws4_request"]
    if scope != expected_scope:
        raise AccessRefused(Refusal.MISMATCH, (
            f"Credential should be scoped to {'/'.join(expected_scope)}, not "
            f"{'/'.join(scope)}."))
    if "host" not in claim.signed:
        raise AccessRefused(Refusal.MISMATCH, "'Host' must be a signed header.")
    payload_hash = _payload_hash(request, claim, body, s3)
    key = signing_key(secrets[key_id], scope)
    tried = []
    for query in canonical_queries(request.query, ("X-Amz-Signature",) if claim.expires else ()):
        canonical = canonical_request(request, claim.signed, payload_hash, s3=s3, query=query)
        string_to_sign = "\n".join([ALGORITHM, claim.timestamp, "/".join(scope),
                                    hashlib.sha256(canonical.encode()).hexdigest()])
        expected = hmac.digest(key, string_to_sign.encode(), "sha256").hex()
        if hmac.compare_digest(expected, claim.signature):
            return Signature(key_id, claim.timestamp, "/".join(scope), claim.signature,
                             payload_hash, key)
        tried.append((canonical, string_to_sign))
    canonical, string_to_sign = tried[0]
    raise AccessRefused(Refusal.MISMATCH, MISMATCH, AWSAccessKeyId=key_id,
                        StringToSign=string_to_sign, SignatureProvided=claim.signature,
                        CanonicalRequest=canonical)


def signing_scope(headers: Mapping[str, str], query: str) -> tuple[str, str] | None:
    """(region, service) a request says it is signed for, read before any check: the gateway
    routes by the service."""
    authorization = headers.get("authorization") or ""
    credential = authorization.partition("Credential=")[2].partition(",")[0].strip()
    if not credential and "X-Amz-Credential" in query:
        credential = dict(parse_qsl(query)).get("X-Amz-Credential", "")
    parts = credential.split("/")
    return (parts[2], parts[3]) if len(parts) == 5 else None


def sign(method: str, url: str, body: bytes, access_key: str, secret_key: str, region: str,
         headers: Mapping[str, str] | None = None,
         service: str = "execute-api") -> dict[str, str]:
    """The headers of a request signed as any AWS SDK signs it (botocore's signer): send them
    with `body` to `url`."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(access_key, secret_key), service, region).add_auth(request)
    return dict(request.headers)

