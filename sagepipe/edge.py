"""The one edge between the wire and the services (LocalStack's `aws/handlers/service.py` is
the model): every request goes through `serve`, which checks who calls, dispatches to the
operation's handler through the service's table, and answers what the handler returns, or any
error, in the service's own wire protocol.

A service is its botocore model, its protocol and its handler table (`Service`), one mapping
from operation name to handler, declared in the service's `responses.py`: a reader sees there
which operations it implements, and nothing else can be called. A handler is either

    a plain function `(params) -> dict`: the backend method itself, run in a worker thread
        (the output members; None for an empty answer), or
    a coroutine `async (context, params) -> dict | Response`: it sees the request (S3
        streams bodies, reads the signature for aws-chunked uploads) and may answer itself.

Errors: a handler raises the service's typed errors (`<service>/exceptions.py`); an
unexpected exception is logged with its traceback in the gateway log and answered as the
service's internal error (500), never with a traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from botocore.model import OperationModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from sagepipe.auth import Authenticator
from sagepipe.errors import AWSError, InternalFailure, NotEmulated, ServiceError
from sagepipe.protocols import protocol_for
from sagepipe.protocols.service_models import service_model
from sagepipe.protocols.wire import Params, WireProtocol, WireRequest
from sagepipe.sigv4 import AccessRefused, Signature

log = logging.getLogger(__name__)

Result = Mapping[str, Any] | Response | None
Handler = Callable[..., Result | Awaitable[Result]]
MAX_BODY = 64 * 1024 * 1024  # above any AWS API's request limit the local services emulate


class EdgeRequest(Request):
    """starlette's Request, its headers looked up in a dict: the edge reads a dozen headers
    of every request (host, signature, routing, protocol), where starlette's Headers scans
    the whole list each time."""

    @property
    def headers(self) -> Headers:
        if not hasattr(self, "_headers"):
            self._headers = IndexedHeaders(scope=self.scope)
        return self._headers


class IndexedHeaders(Headers):
    """Immutable headers, as starlette's, indexed by lower-case name on first use."""

    @cached_property
    def _index(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for name, value in self.raw:
            index.setdefault(name.decode("latin-1").lower(), []).append(
                value.decode("latin-1"))
        return index

    def __getitem__(self, key: str) -> str:
        values = self._index.get(key.lower())
        if values is None:
            raise KeyError(key)
        return values[0]

    def get(self, key: str, default: Any = None) -> Any:
        values = self._index.get(key.lower())
        return default if values is None else values[0]

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def getlist(self, key: str) -> list[str]:
        return list(self._index.get(key.lower(), ()))


@functools.lru_cache(maxsize=1024)
def is_coroutine(handler: Handler) -> bool:
    """Whether a handler is `async def` (asked once per handler: inspect is slow)."""
    return inspect.iscoroutinefunction(handler)


@dataclass
class RequestContext:
    """One request on its way through the edge."""

    request: Request
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    signature: Signature | None = None  # once verified

    @property
    def region(self) -> str | None:
        """The region the request was signed for."""
        return self.signature.region if self.signature else None


class Service:
    """A service at the edge. Subclasses override `receive` and `parameters` when the body is
    not read whole before the call (S3)."""

    label: str
    signing_name: str
    target_prefix: str | None = None
    protocol: WireProtocol
    handlers: Mapping[str, Handler]
    internal_error: type[ServiceError] = InternalFailure
    max_body: int = MAX_BODY

    async def handle(self, context: RequestContext, auth: Authenticator) -> Response:
        wire = await self.receive(context, auth)
        op = self.operation(wire)
        handler = self.handlers.get(op.name)
        if handler is None:
            raise NotEmulated(f"sagepipe's local {self.label} does not emulate {op.name}; run it "
                              "against AWS.")
        params = await self.parameters(context, op, wire)
        if is_coroutine(handler):
            result = await cast(Awaitable[Result], handler(context, params))
        else:
            result = await run_in_threadpool(cast(Callable[..., Result], handler), params)
        if isinstance(result, Response):
            return result
        return self.protocol.serialize(op, {} if result is None else result, context.request_id)

    def operation(self, wire: WireRequest) -> OperationModel:
        return self.protocol.operation(wire)

    async def receive(self, context: RequestContext, auth: Authenticator) -> WireRequest:
        """The request with its body, once its signature holds (it covers the body)."""
        body = await read_body(context.request, self.max_body, self.body_too_large)
        context.signature = auth.verify(context.request, self.signing_name, body=body)
        return wire_request(context.request, body)

    async def parameters(self, context: RequestContext, op: OperationModel,
                         wire: WireRequest) -> Params:
        return self.protocol.parse(op, wire)

    def body_too_large(self, size: int) -> AWSError:
        return AWSError("RequestEntityTooLarge", f"The request body has {size} bytes; the local "
                        f"{self.label} accepts at most {self.max_body}.", 413)

    def error_response(self, err: AWSError, context: RequestContext) -> Response:
        return self.protocol.serialize_error(err, context.request_id, context.request.method)


class AwsService(Service):
    """A service botocore models: its signing name, target prefix and protocol come from the
    model; `handlers` is its table, operation name -> handler."""

    def __init__(self, botocore_name: str, label: str, handlers: Mapping[str, Handler],
                 **protocol_options: Any) -> None:
        model = service_model(botocore_name)
        unknown = set(handlers) - set(model.operation_names)
        if unknown:
            raise ValueError(f"{botocore_name} has no operations {sorted(unknown)}")
        self.model = model
        self.label = label
        self.handlers = handlers
        self.signing_name = model.signing_name or model.endpoint_prefix
        self.target_prefix = model.metadata.get("targetPrefix")
        self.protocol = protocol_for(model, frozenset(handlers), **protocol_options)


async def serve(service: Service, request: Request, auth: Authenticator) -> Response:
    """The guard around every call: what goes wrong is answered in the service's protocol."""
    context = RequestContext(request)
    try:
        auth.check_host(request.headers.get("host"))
        response = await service.handle(context, auth)
    except AccessRefused as refused:
        response = service.error_response(service.protocol.access_error(refused), context)
    except AWSError as err:
        response = service.error_response(err, context)
    except ClientDisconnect:  # nobody is left to answer; the body was discarded
        response = Response(status_code=400)
    except Exception:  # a bug of ours: log it here, never send a traceback to the client
        log.exception("internal error in %s: %s %s", service.label, request.method,
                      request.url.path)
        response = service.error_response(service.internal_error(
            f"sagepipe's local {service.label} hit an internal error; see the gateway log "
            "(`sagepipe logs gateway`)."), context)
    response.headers.setdefault(service.protocol.request_id_header, context.request_id)
    if declares_body(request) and not body_was_read(request):
        # Unread body bytes would be parsed as the next request on this connection.
        response.headers["connection"] = "close"
    return response


def wire_request(request: Request, body: bytes = b"") -> WireRequest:
    """What the protocols read of a request: path and query exactly as sent."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return WireRequest(request.method, raw_path.decode("latin-1"),
                       request.scope.get("query_string", b"").decode("latin-1"),
                       request.headers, body)


async def read_body(request: Request, limit: int,
                    too_large: Callable[[int], AWSError]) -> bytes:
    """The whole body; `too_large(size)` once it is all read, if it is above `limit`."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    mark_body_read(request)
    if size > limit:
        raise too_large(size)
    return b"".join(chunks)


def declares_body(request: Request) -> bool:
    return request.headers.get("content-length", "0") != "0" or \
        "chunked" in request.headers.get("transfer-encoding", "")


def mark_body_read(request: Request) -> None:
    request.state.body_read = True


def body_was_read(request: Request) -> bool:
    return getattr(request.state, "body_read", False)
