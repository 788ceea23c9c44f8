"""The gateway's own routes under `/_sagepipe/` (the serverless hosting the local
CloudFormation drives, what the instance is): not an AWS API, so plain JSON, but signed like
one, with the signing name `sagepipe` and the home's credentials (`clients.SigV4` signs them).
Only the health probe, `GET /_sagepipe/health`, answers unsigned, and says nothing but
"running".

Errors are JSON `{"__type": code, "message": ...}`, as the JSON protocol writes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote

import orjson
from starlette.responses import JSONResponse, Response

from sagepipe.edge import Handler, Service
from sagepipe.errors import AWSError, ServiceError
from sagepipe.protocols.aws_json import JsonProtocol
from sagepipe.protocols.wire import Params, WireRequest
from sagepipe.sigv4 import AccessRefused

PREFIX = "/_sagepipe/"
HEALTH_PATH = "/_sagepipe/health"
SIGNING_NAME = "sagepipe"


class UnknownOperationException(ServiceError):
    status = 404


class SerializationException(ServiceError):
    pass


@dataclass(frozen=True)
class InternalOperation:
    """What the edge reads of an operation (no botocore model behind these): its name."""

    name: str


class InternalProtocol:
    """`(METHOD, /_sagepipe/path/{name})` -> operation; the input is `{"name": <label>,
    "body": <the JSON body>}`; the output is JSON (204 when a handler returns nothing)."""

    name: ClassVar[str] = "sagepipe-internal"
    request_id_header: ClassVar[str] = "x-amzn-RequestId"

    def __init__(self, routes: Mapping[tuple[str, str], str]) -> None:
        self.routes = [(method, re.compile(re.escape(path).replace(r"\{name\}", "([^/]+)")),
                        InternalOperation(op)) for (method, path), op in routes.items()]
        self.errors = JsonProtocol(None)

    def operation(self, request: WireRequest) -> InternalOperation:
        return self._match(request)[0]

    def _match(self, request: WireRequest) -> tuple[InternalOperation, str | None]:
        for method, path, op in self.routes:
            found = path.fullmatch(request.path)
            if found and method == request.method:
                return op, unquote(found.group(1)) if found.groups() else None
        raise UnknownOperationException(f"no internal operation at {request.method} "
                                        f"{request.path}")

    def parse(self, op: InternalOperation, request: WireRequest) -> Params:
        _, name = self._match(request)
        if not request.body.strip():
            return {"name": name, "body": {}}
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise SerializationException(f"body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise SerializationException("body must be a JSON object")
        return {"name": name, "body": body}

    def serialize(self, op: InternalOperation, result: Any, request_id: str) -> Response:
        if result in (None, {}):
            return Response(status_code=204)
        return JSONResponse(result)

    def serialize_error(self, err: AWSError, request_id: str, method: str) -> Response:
        return self.errors.serialize_error(err, request_id, method)

    def access_error(self, refused: AccessRefused) -> AWSError:
        return self.errors.access_error(refused)


class InternalService(Service):
    label = "sagepipe"
    signing_name = SIGNING_NAME

    def __init__(self, routes: Mapping[tuple[str, str], str],
                 handlers: Mapping[str, Handler]) -> None:
        self.protocol = InternalProtocol(routes)
        self.handlers = handlers
