"""REST-JSON (an operation per method and URI template; labels, query string and headers as
the model places them; a JSON body or a raw payload): Lambda, SageMaker Runtime, API Gateway.

The payload member, when the model names one, is the whole body (raw bytes for a blob, the
text for a string, JSON for a structure); otherwise the members without a location are the
JSON body. Errors carry their code in `x-amzn-ErrorType` and `{"message": ...}` in the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from botocore.model import OperationModel, ServiceModel
from starlette.responses import Response

from sagepipe.errors import AWSError, ServiceError
from sagepipe.protocols.rest import (
    BadValue,
    RestRouter,
    body_members,
    decode_label,
    read_input,
    status_of,
    write_headers,
)
from sagepipe.protocols.validation import validate_input, validation_code
from sagepipe.protocols.values import from_json, to_json, walk
from sagepipe.protocols.wire import AccessErrors, Params, WireRequest, access_error
from sagepipe.sigv4 import AccessRefused, Refusal

# API Gateway's and Lambda's answers, all 403 (the front door of every REST-JSON service).
ACCESS_ERRORS: AccessErrors = {
    Refusal.MISSING: ("MissingAuthenticationTokenException", 403, "Missing Authentication Token"),
    Refusal.INCOMPLETE: ("IncompleteSignatureException", 403, None),
    Refusal.UNKNOWN_KEY: ("UnrecognizedClientException", 403, None),
    Refusal.MISMATCH: ("InvalidSignatureException", 403, None),
    Refusal.EXPIRED: ("InvalidSignatureException", 403, None),
    Refusal.REQUEST_EXPIRED: ("InvalidSignatureException", 403, None),
    Refusal.PAYLOAD_MISMATCH: ("InvalidSignatureException", 403, None),
    Refusal.FOREIGN_HOST: ("AccessDeniedException", 403, None),
}


class UnknownOperationException(ServiceError):
    status = 404


class SerializationException(ServiceError):
    pass


class RestJsonProtocol:
    name: ClassVar[str] = "rest-json"
    request_id_header: ClassVar[str] = "x-amzn-RequestId"

    def __init__(self, model: ServiceModel, implemented: frozenset[str] = frozenset()) -> None:
        self.model = model
        self.router = RestRouter(model)
        self.implemented = implemented
        self.validation_code = validation_code(model, "ValidationException")

    def operation(self, request: WireRequest) -> OperationModel:
        op = self.router.match(request.method, request.path, dict(request.query_params),
                               request.headers, self.implemented)
        if op is None:
            known = "; ".join(str(route) for route in self.router.near(request.path))
            raise UnknownOperationException(
                f"{self.model.metadata.get('serviceId')} has no operation at {request.method} "
                f"{request.path} ({known}).")
        return op

    def parse(self, op: OperationModel, request: WireRequest) -> Params:
        shape = op.input_shape
        if shape is None:
            return {}
        try:
            labels = {name: decode_label(value)
                      for name, value in self.router.labels(op, request.path).items()}
            params = read_input(shape, labels, request.query_params, request.headers)
            params.update(self._body(shape, request.body))
        except UnicodeDecodeError:
            raise SerializationException("The URI is not UTF-8 once percent-decoded.") from None
        except BadValue as exc:
            raise AWSError(self.validation_code, str(exc)) from None
        validate_input(op, params, self.validation_code)
        return params

    def _body(self, shape: Any, body: bytes) -> Params:
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            if member.type_name == "blob":
                return {payload: body}
            if member.type_name == "string":
                return {payload: body.decode()} if body else {}
            return {payload: self._json(member, body)} if body.strip() else {}
        return self._json(shape, body) if body.strip() else {}

    @staticmethod
    def _json(shape: Any, body: bytes) -> Any:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise SerializationException(f"Request body is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise SerializationException("Request body must be a JSON object.")
        try:
            return walk(shape, value, from_json)
        except ValueError as exc:
            raise SerializationException(f"A value is not of its member's type: {exc}.") from None

    def serialize(self, op: OperationModel, result: Mapping[str, Any],
                  request_id: str) -> Response:
        shape = op.output_shape
        headers = {**write_headers(shape, result), self.request_id_header: request_id}
        status = status_of(op, result)
        if shape is None:
            return Response(status_code=status, headers=headers)
        payload = shape.serialization.get("payload")
        if payload:
            member, value = shape.members[payload], result.get(payload)
            if member.type_name in ("blob", "string"):
                raw = value.encode() if isinstance(value, str) else bytes(value or b"")
                return Response(raw, status, headers)
            return Response(orjson.dumps(walk(member, value or {}, to_json)), status, headers,
                            media_type="application/json")
        members = body_members(shape)
        body = {name: value for name, value in result.items()
                if name in members and value is not None}
        return Response(orjson.dumps(walk(shape, body, to_json)), status, headers,
                        media_type="application/json")

    def serialize_error(self, err: AWSError, request_id: str, method: str) -> Response:
        return Response(orjson.dumps({"message": err.message, **err.extra}), err.status,
                        media_type="application/json",
                        headers={"x-amzn-ErrorType": err.code,
                                 self.request_id_header: request_id})

    def access_error(self, refused: AccessRefused) -> AWSError:
        return access_error(ACCESS_ERRORS, refused)
