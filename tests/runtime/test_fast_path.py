"""The InvokeEndpoint fast path (sagepipe/runtime/fast_path.py) answers only plain invocations
it has checked; every other request reaches the general way whole: as it came, or with the
body it read replayed. The answers themselves are the gateway's (tests/runtime, tests/edge)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sagepipe.auth import Authenticator
from sagepipe.credentials import LocalCredentials
from sagepipe.runtime.fast_path import PlainInvocations
from sagepipe.runtime.responses import MAX_PAYLOAD, RuntimeService
from sagepipe.sagemaker.invocations import Invocation
from sagepipe.sigv4 import sign

CREDENTIALS = LocalCredentials("AKIDFASTPATH0000", "fast-path-secret")
URL = "http://127.0.0.1:4599"
PATH = "/endpoints/titanic/invocations"
BODY = b"3,male,22\n"


class Answering:
    """The invoker's interface, answering as a model server would (no server to start)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    async def invoke(self, endpoint: str, body: bytes, **_options: Any) -> Invocation:
        self.calls.append((endpoint, body))
        return Invocation(b"0,0.1\n", "text/csv", "AllTraffic", None)


def scope_of(headers: dict[str, str], *, method: str = "POST", path: str = PATH,
             query: bytes = b"") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
            "query_string": query, "headers": [(name.lower().encode(), value.encode())
                                               for name, value in headers.items()]}


def signed(body: bytes = BODY, secret: str = CREDENTIALS.secret_access_key,
           **extra: str) -> dict[str, str]:
    headers = sign("POST", URL + PATH, body, CREDENTIALS.access_key_id, secret, "us-east-1",
                   {"Content-Type": "text/csv", **extra}, service="sagemaker")
    return {"Host": "127.0.0.1:4599", "Content-Length": str(len(body)), **headers}


def call(headers: dict[str, str], chunks: list[dict[str, Any]], **scope: Any) -> dict[str, Any]:
    """Drive the fast path once: what it sent, and what the general way got, if anything."""
    invoker, sent, general = Answering(), [], {}

    async def general_way(scope: dict, receive: Any, _send: Any) -> None:
        general["messages"] = [await receive() for _ in chunks]

    async def run() -> None:
        pending = list(chunks)

        async def receive() -> dict[str, Any]:
            return pending.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        fast = PlainInvocations(RuntimeService(invoker), Authenticator(CREDENTIALS), general_way)
        await fast(scope_of(headers, **scope), receive, send)

    asyncio.run(run())
    return {"sent": sent, "general": general.get("messages"), "invoked": invoker.calls}


def whole(body: bytes) -> list[dict[str, Any]]:
    return [{"type": "http.request", "body": body, "more_body": False}]


def test_a_plain_invocation_is_answered_on_the_fast_path():
    result = call(signed(), [{"type": "http.request", "body": BODY[:4], "more_body": True},
                             {"type": "http.request", "body": BODY[4:], "more_body": False}])
    assert result["general"] is None
    assert result["invoked"] == [("titanic", BODY)]
    start, body = result["sent"]
    headers = dict(start["headers"])
    assert (start["status"], body["body"]) == (200, b"0,0.1\n")
    assert headers[b"x-amzn-invoked-production-variant"] == b"AllTraffic"
    assert b"x-amzn-requestid" in headers


@pytest.mark.parametrize("headers, scope", [
    ({**signed(), "X-Amz-Target": "SageMaker.ListEndpoints"}, {}),  # routed by its target
    ({**signed(), "Host": "evil.example.com"}, {}),  # a foreign host
    ({**signed(), "Transfer-Encoding": "chunked"}, {}),
    ({**signed(), "X-Amzn-SageMaker-Target-Variant": "A"}, {}),  # a modeled header
    (signed(), {"query": b"x=1"}),
    (signed(), {"method": "PUT"}),
    ({"Host": "127.0.0.1:4599", "Content-Length": str(len(BODY))}, {}),  # unsigned
])
def test_what_is_not_plain_goes_the_general_way_as_it_came(headers, scope):
    result = call(headers, whole(BODY), **scope)
    assert result == {"sent": [], "general": whole(BODY), "invoked": []}


@pytest.mark.parametrize("headers, chunks", [
    (signed(secret="not-the-secret"), whole(BODY)),  # a signature that does not hold
    (signed(body=b"other"), whole(BODY)),  # one for another body
    (signed(), [{"type": "http.disconnect"}]),  # the client left
    (signed(body=b"x" * (MAX_PAYLOAD + 1)), whole(b"x" * (MAX_PAYLOAD + 1))),
])
def test_what_the_general_way_refuses_reaches_it_with_the_body_replayed(headers, chunks):
    result = call(headers, chunks)
    assert result == {"sent": [], "general": chunks, "invoked": []}
