"""A plain InvokeEndpoint served straight from the ASGI scope: the local AWS's hot path.

A model's clients (a QA load test, an API in front of the endpoint) call InvokeEndpoint and
nothing else, many times a second; everything else the local AWS serves is called a few times
per pipeline run. Through the general way (sagepipe.edge.serve: starlette's Request, the
indexed headers, the service table, the edge's dispatch) the gateway spent about 100 us of its
CPU per invocation before reaching the model server, twice what the hop itself costs. This
path reads what a plain InvokeEndpoint needs (see sagepipe.runtime.responses) from the scope
and calls the same handler with the same parameters.

It never answers differently from the general way, by handing a request over to it whenever
it is not sure: a request that is not plain, or not signed for the runtime, or addressed to a
foreign host, goes over as it came, before its body is read; one whose body the general way
would refuse, whose signature does not hold, or whose client left while sending it goes over
with what was read of it replayed, before anything happened. What the call itself raises is
answered by the edge's own `failure`, as the general way answers it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sagepipe.auth import Authenticator, is_loopback
from sagepipe.edge import EdgeRequest, RequestContext, failure
from sagepipe.runtime.responses import MAX_PAYLOAD, PLAIN_HEADERS, RuntimeService, plain_name
from sagepipe.sigv4 import AccessRefused, Received, signing_scope

# Headers that would route the request or frame its body otherwise: the general way decides.
ROUTING_HEADERS = ("x-amz-target", "transfer-encoding")


class PlainInvocations:
    """The gateway's ASGI entry for HTTP requests: plain invocations of `runtime` served here,
    every other request handed to `general`."""

    def __init__(self, runtime: RuntimeService, auth: Authenticator, general: ASGIApp) -> None:
        self.runtime = runtime
        self.auth = auth
        self.general = general
        self.operation = runtime.invoke_operation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain = self._plain(scope)
        if plain is None:
            await self.general(scope, receive, send)
            return
        endpoint, headers = plain
        received: list[Message] = []
        body = b""
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":  # the client left: the general way says so
                await self.general(scope, replay(received, receive), send)
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if not body or len(body) > MAX_PAYLOAD:
            await self.general(scope, replay(received, receive), send)
            return
        try:
            self.auth.verify_received(Received("POST", scope["raw_path"].decode("latin-1"), "",
                                               headers), self.runtime.signing_name, body=body)
        except AccessRefused:
            await self.general(scope, replay(received, receive), send)
            return
        context = RequestContext(EdgeRequest(scope, replay(received, receive)))
        params = {"EndpointName": endpoint, "Body": body}
        for header, name in PLAIN_HEADERS.items():
            if header in headers:
                params[name] = headers[header]
        try:
            result = await self.runtime.invoke_endpoint(context, params)
            response = self.runtime.protocol.serialize(self.operation, result,
                                                       context.request_id)
        except Exception as exc:
            response = failure(self.runtime, context, exc)
            response.headers.setdefault(self.runtime.protocol.request_id_header,
                                        context.request_id)
        await response(scope, receive, send)

    def _plain(self, scope: Scope) -> tuple[str, dict[str, str]] | None:
        """(endpoint, headers by lower-case name) of a plain InvokeEndpoint signed for the
        runtime, to a loopback host, with a body declared by its length; else None."""
        raw_path = scope.get("raw_path")
        if scope["method"] != "POST" or scope["query_string"] or not raw_path:
            return None
        raw_headers = scope["headers"]
        endpoint = plain_name(raw_path.decode("latin-1"), raw_headers)
        if endpoint is None:
            return None
        headers: dict[str, str] = {}
        for raw_name, raw_value in raw_headers:
            name = raw_name.decode("latin-1").lower()
            if name in headers:  # a repeated header: the general way joins them
                return None
            headers[name] = raw_value.decode("latin-1")
        signed_for = signing_scope(headers, "")
        length = headers.get("content-length", "")
        if signed_for is None or signed_for[1] != self.runtime.signing_name or \
                any(name in headers for name in ROUTING_HEADERS) or \
                not is_loopback(headers.get("host")) or not length.isdigit() or \
                not length.isascii() or length == "0":
            return None
        return endpoint, headers


def replay(received: list[Message], receive: Receive) -> Callable[[], Awaitable[Message]]:
    """`receive`, giving the messages already `received` first."""
    pending = list(received)

    async def again() -> Message:
        return pending.pop(0) if pending else await receive()

    return again
