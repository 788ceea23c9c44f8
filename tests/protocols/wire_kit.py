"""botocore on the client side of each protocol: what it sends for an operation call, and what
it reads from a response (the inverse of the protocol modules under test)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer
from starlette.responses import Response

from sagepipe.errors import AWSError
from sagepipe.protocols import protocol_for
from sagepipe.protocols.service_models import service_model
from sagepipe.protocols.wire import WireRequest

ENDPOINT = "http://127.0.0.1:4580"
REQUEST_ID = "7f0c2b1e-0000-4000-8000-000000000001"


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
    body: Any = response.body
    if op.has_streaming_output and response.status_code < 300:  # as botocore's endpoint does
        body = StreamingBody(io.BytesIO(body), len(body))
    wire = {"status_code": response.status_code, "headers": HeadersDict(dict(response.headers)),
            "body": body}
    answer = parser.parse(wire, op.output_shape)
    error_shape = model.shape_for_error_code(answer.get("Error", {}).get("Code"))
    if error_shape is not None:  # the error shape's own fields, as botocore's endpoint adds them
        answer.update(parser.parse(wire, error_shape))
    for name, value in answer.items():
        if isinstance(value, StreamingBody):
            answer[name] = value.read()
    return answer


def as_epochs(value: Any) -> Any:
    """`value` with datetimes as epoch seconds, as handlers see timestamps."""
    if isinstance(value, dict):
        return {key: as_epochs(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_epochs(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return value


def parsed(service: str, operation: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(operation, input members) as the local protocol reads botocore's request."""
    protocol = protocol_for(service_model(service))
    request = sent(service, operation, params)
    op = protocol.operation(request)
    return op.name, protocol.parse(op, request)


def answered(service: str, operation: str, result: dict[str, Any]) -> dict[str, Any]:
    """What botocore reads from the local protocol's answer with `result`."""
    model = service_model(service)
    response = protocol_for(model).serialize(model.operation_model(operation), result, REQUEST_ID)
    answer = read(service, operation, response)
    assert answer.pop("ResponseMetadata")["RequestId"] == REQUEST_ID
    return answer


def refused(service: str, operation: str, error: AWSError,
            method: str = "POST") -> tuple[dict[str, Any], int]:
    """(botocore's "Error" entry, the status) for the local protocol's answer with `error`."""
    response = protocol_for(service_model(service)).serialize_error(error, REQUEST_ID, method)
    answer = read(service, operation, response)
    assert answer["ResponseMetadata"]["RequestId"] == REQUEST_ID
    return answer["Error"], response.status_code
