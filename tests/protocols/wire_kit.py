"""botocore on the client side of each protocol: what it sends for an operation call, and what
it reads from a response (the inverse of the protocol modules under test)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from starlette.responses import Response

from sagepipe.protocols.service_models import service_model
from sagepipe.protocols.wire import WireRequest

ENDPOINT = "http://127.0.0.1:4580"


def sent(service: str, operation: str, params: dict[str, Any]) -> WireRequest:
    """The request botocore sends for `operation(**params)`, as a server receives it."""
    model = service_model(service)
    op = model.operation_model(operation)
    request = create_serializer(model.resolved_protocol).serialize_to_request(params, op)
    prepare_request_dict(request, endpoint_url=ENDPOINT)
    prepared = create_request_object(request).prepare()
    parts = urlsplit(prepared.url)
    body = prepared.body or b""
    return WireRequest.of(prepared.method, parts.path or "/", parts.query,
                          dict(prepared.headers), body.encode() if isinstance(body, str) else body)


def read(service: str, operation: str, response: Response) -> dict[str, Any]:
    """What botocore makes of a response to `operation` (an "Error" entry for an error)."""
    model = service_model(service)
    op = model.operation_model(operation)
    parser = create_parser(model.resolved_protocol)
    return parser.parse({"status_code": response.status_code,
                         "headers": dict(response.headers), "body": response.body},
                        op.output_shape)
