"""The one SigV4 verifier agrees with botocore's signer, the way every AWS SDK signs, and
refuses what AWS refuses. Here with API Gateway's rules (execute-api, 5 minutes of skew) and
error types, as the local API host applies them."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest

from sagepipe.protocols.rest_json import ACCESS_ERRORS
from sagepipe.sigv4 import AMZ_DATE, AccessRefused, Received, sign, verify

KEY = "LSIAEXAMPLEEXAMPLE00"
SECRETS = {KEY: "a-secret"}
SKEW = dt.timedelta(minutes=5)


def received(method: str, url: str, body: bytes = b"", secret: str = "a-secret",
             region: str = "us-east-1", headers: dict | None = None):
    """What a server receives for a request botocore signed: method, target, headers, body."""
    signed = sign(method, url, body, KEY, secret, region, headers)
    parts = urlsplit(url)
    return method, parts.path + (f"?{parts.query}" if parts.query else ""), \
        {**signed, "Host": parts.netloc}, body


def check(request, now: dt.datetime | None = None) -> str:
    """The access key that signed `request`, as the API host verifies it."""
    method, target, headers, body = request
    parts = urlsplit(target)
    return verify(Received(method, parts.path, parts.query,
                           {name.lower(): value for name, value in headers.items()}),
                  SECRETS, body=body, service="execute-api", region="us-east-1",
                  max_skew=SKEW, now=now).access_key


def signed_at(request) -> dt.datetime:
    return dt.datetime.strptime(request[2]["X-Amz-Date"], AMZ_DATE).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize("method, url, body, headers", [
    ("GET", "http://127.0.0.1:8000/api/health", b"", None),
    ("POST", "http://127.0.0.1:8000/api/predict", b'{"records": []}',
     {"Content-Type": "application/json", "X-Custom": "  spaced   value "}),
    ("GET", "http://127.0.0.1:8000/api/items/a%20b/c~d?z=1&a=%2Fx&a=0&empty=", b"", None),
    ("DELETE", "http://localhost/api/./items/../items", b"", None),
])
def test_requests_botocore_signed_are_accepted(method, url, body, headers):
    assert check(received(method, url, body, headers=headers)) == KEY


class Refused:
    """A refusal as API Gateway reports it: its error type and message."""

    def __init__(self, refused: AccessRefused) -> None:
        code, _status, message = ACCESS_ERRORS[refused.refusal]
        self.error_type = code
        self.message = message or refused.message


def refusal(request, now: dt.datetime | None = None) -> Refused:
    with pytest.raises(AccessRefused) as caught:
        check(request, now=now)
    return Refused(caught.value)


def test_any_change_after_signing_is_refused():
    method, target, headers, body = received("POST", "http://127.0.0.1:1/api/predict?x=1",
                                             b"{}", headers={"Content-Type": "application/json"})
    changes = [("PUT", target, headers, body), (method, target + "&y=2", headers, body),
               (method, "/api/other?x=1", headers, body), (method, target, headers, b"{ }"),
               (method, target, {**headers, "Host": "127.0.0.1:2"}, body),
               (method, target, {**headers, "Content-Type": "text/plain"}, body)]
    for change in changes:
        assert refusal(change).error_type == "InvalidSignatureException", change


def test_a_wrong_secret_an_unknown_key_and_no_signature_are_refused():
    assert refusal(received("GET", "http://h/api/x", secret="nope")).error_type == \
        "InvalidSignatureException"
    method, target, headers, body = received("GET", "http://h/api/x")
    other_key = {**headers, "Authorization": headers["Authorization"].replace(
        f"Credential={KEY}/", "Credential=AKIDEXAMPLE/")}
    assert refusal((method, target, other_key, body)).error_type == "UnrecognizedClientException"
    unsigned = {k: v for k, v in headers.items() if k != "Authorization"}
    failure = refusal((method, target, unsigned, body))
    assert (failure.error_type, failure.message) == ("MissingAuthenticationTokenException",
                                                     "Missing Authentication Token")


def test_the_scope_must_be_this_region_and_execute_api():
    assert "Credential should be scoped to" in refusal(
        received("GET", "http://h/api/x", region="eu-west-1")).message


def test_signatures_older_or_newer_than_5_minutes_are_refused():
    request = received("GET", "http://h/api/x")
    at = signed_at(request)
    assert check(request, now=at + dt.timedelta(minutes=4)) == KEY
    assert refusal(request, at + dt.timedelta(minutes=6)).message.startswith(
        f"Signature expired: {at.strftime(AMZ_DATE)} is now earlier than")
    assert refusal(request, at - dt.timedelta(minutes=6)).message.startswith(
        "Signature not yet current")


def test_malformed_headers_are_incomplete_signatures():
    method, target, headers, body = received("GET", "http://h/api/x")
    for broken in ({**headers, "Authorization": "AWS4-HMAC-SHA256 Credential=test"},
                   {**headers, "X-Amz-Date": "yesterday"}):
        assert refusal((method, target, broken, body)).error_type == \
            "IncompleteSignatureException"


def test_host_must_be_signed():
    method, target, headers, body = received("GET", "http://h/api/x")
    headers["Authorization"] = headers["Authorization"].replace("SignedHeaders=host;",
                                                                "SignedHeaders=")
    assert refusal((method, target, headers, body)).message == "'Host' must be a signed header."
