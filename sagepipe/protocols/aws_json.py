"""AWS JSON 1.0 and 1.1 (`POST /`, `X-Amz-Target: Prefix.Operation`, a JSON body both ways):
SageMaker, ECR, CloudWatch Logs, Step Functions, CodeBuild, CodePipeline.

The operation must be in botocore's model and its input is checked against the model's input
shape; blobs travel base64 and timestamps as epoch seconds unless the model says otherwise.
Errors are `{"__type": code, "message": ...}` with the code also in `x-amzn-ErrorType`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson
from botocore.model import OperationModel, ServiceModel
from starlette.responses import Response

from sagepipe.errors import AWSError, ServiceError
from sagepipe.protocols.validation import validate_input, validation_code
from sagepipe.protocols.values import from_json, to_json, walk
from sagepipe.protocols.wire import AccessErrors, Params, WireRequest, access_error
from sagepipe.sigv4 import AccessRefused, Refusal

ACCESS_ERRORS: AccessErrors = {
    Refusal.MISSING: ("MissingAuthenticationTokenException", 400, "Missing Authentication Token"),
    Refusal.INCOMPLETE: ("IncompleteSignatureException", 400, None),
    Refusal.UNKNOWN_KEY: ("UnrecognizedClientException", 400, None),
    Refusal.MISMATCH: ("InvalidSignatureException", 400, None),
    Refusal.EXPIRED: ("InvalidSignatureException", 400, None),
    Refusal.REQUEST_EXPIRED: ("InvalidSignatureException", 400, None),
    Refusal.PAYLOAD_MISMATCH: ("InvalidSignatureException", 400, None),
    Refusal.FOREIGN_HOST: ("AccessDeniedException", 403, None),
}


class UnknownOperationException(ServiceError):
    pass


class SerializationException(ServiceError):
    pass


def encode(value: Any) -> bytes:
    return orjson.dumps(value)


class JsonProtocol:
    name: ClassVar[str] = "json"
    request_id_header: ClassVar[str] = "x-amzn-RequestId"

    def __init__(self, model: ServiceModel | None) -> None:
        """`model` None: a service botocore does not know, answered with errors only."""
        self.model = model
        version = model.metadata.get("jsonVersion", "1.1") if model else "1.1"
        self.content_type = f"application/x-amz-json-{version}"
        self.validation_code = validation_code(model, "ValidationException") if model else ""

    def operation(self, request: WireRequest) -> OperationModel:
        assert self.model is not None
        target = request.headers.get("x-amz-target", "")
        prefix, _, name = target.rpartition(".")
        if prefix != self.model.metadata.get("targetPrefix") or \
                name not in self.model.operation_names:
            raise UnknownOperationException(
                f"{self.model.metadata.get('serviceId')} has no operation {target!r} "
                f"(X-Amz-Target must be {self.model.metadata.get('targetPrefix')}.<Operation>).")
        return self.model.operation_model(name)

    def parse(self, op: OperationModel, request: WireRequest) -> Params:
        try:
            params = orjson.loads(request.body) if request.body.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise SerializationException(f"Request body is not JSON: {exc}") from None
        if not isinstance(params, dict):
            raise SerializationException("Request body must be a JSON object.")
        try:
            params = walk(op.input_shape, params, from_json)
        except ValueError as exc:
            raise SerializationException(f"A value is not of its member's type: {exc}.") from None
        validate_input(op, params, self.validation_code)
        return params

    def serialize(self, op: OperationModel, result: Mapping[str, Any],
                  request_id: str) -> Response:
        body = walk(op.output_shape, dict(result), to_json) if op.output_shape else {}
        return Response(encode(body), media_type=self.content_type,
                        headers={self.request_id_header: request_id})

    def serialize_error(self, err: AWSError, request_id: str, method: str) -> Response:
        body = {"__type": err.code, "message": err.message, **err.extra}
        return Response(encode(body), err.status, media_type=self.content_type,
                        headers={"x-amzn-ErrorType": err.code,
                                 self.request_id_header: request_id})

    def access_error(self, refused: AccessRefused) -> AWSError:
        return access_error(ACCESS_ERRORS, refused)
