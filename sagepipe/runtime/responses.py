"""The SageMaker Runtime on the wire (REST-JSON, botocore's `sagemaker-runtime` model).

`InvokeEndpoint` is the one operation served: the raw body goes to the endpoint's model server
with Content-Type, Accept and the custom attributes; its answer comes back raw, with
Content-Type and `x-Amzn-Invoked-Production-Variant`. The others answer NotImplemented.

InvokeEndpoint is the one call on a hot path (a model's clients, a QA load test), so a plain
one, as boto3 sends it, skips the general routing and reading of the REST-JSON protocol (a
third of the gateway's time per invocation): its parameters are read directly when every check
of the model would pass them as they are. Anything else takes the general way, which says what
is wrong. The signature is verified and the answer written as for any call.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.model import OperationModel

from sagepipe.edge import AwsService, RequestContext
from sagepipe.errors import AWSError
from sagepipe.protocols.wire import Params, WireRequest
from sagepipe.runtime.exceptions import PayloadTooLarge, ValidationError
from sagepipe.sagemaker.invocations import Invoker

MAX_PAYLOAD = 6 * 1024 * 1024  # InvokeEndpoint's limit on a request body
FORWARDED_HEADERS = ("ContentType", "Accept", "CustomAttributes", "InferenceId")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# A plain InvokeEndpoint: the path with a name the model's EndpointName pattern and length
# accept, no query, a body, and no modeled header but these two (each ASCII, <= 1024 chars).
PLAIN_PATH = re.compile(r"/endpoints/([a-zA-Z0-9](?:-*[a-zA-Z0-9])*)/invocations")
MAX_NAME = 63
PLAIN_HEADERS = {"content-type": "ContentType", "accept": "Accept"}
MAX_PLAIN_HEADER = 1024
RAW_PLAIN_HEADERS = tuple(name.encode() for name in PLAIN_HEADERS)
MODELED_PREFIX = b"x-amzn-sagemaker-"


def header_value(value: str, name: str) -> str:
    """A header forwarded to the model server as HTTP reads it: without the whitespace around
    it (`'text/csv '` is `text/csv`); control characters, which no header may carry, refused."""
    if CONTROL.search(value):
        raise ValidationError(f"{name} must not contain control characters.")
    return value.strip(" \t")


class RuntimeService(AwsService):
    max_body = MAX_PAYLOAD

    def __init__(self, invoker: Invoker) -> None:
        self.invoker = invoker
        super().__init__("sagemaker-runtime", "SageMaker Runtime",
                         {"InvokeEndpoint": self.invoke_endpoint})
        self.invoke_operation = self.model.operation_model("InvokeEndpoint")

    def operation(self, wire: WireRequest) -> OperationModel:
        if plain_endpoint(wire) is not None:
            return self.invoke_operation
        return super().operation(wire)

    async def parameters(self, context: RequestContext, op: OperationModel,
                         wire: WireRequest) -> Params:
        endpoint = plain_endpoint(wire)
        if endpoint is None:
            return await super().parameters(context, op, wire)
        params: Params = {"EndpointName": endpoint, "Body": wire.body}
        for header, name in PLAIN_HEADERS.items():
            value = wire.headers.get(header)
            if value is not None:
                params[name] = value
        return params

    def body_too_large(self, size: int) -> AWSError:
        return PayloadTooLarge(f"Request payload is too large: {size} bytes; InvokeEndpoint "
                               f"accepts at most {MAX_PAYLOAD} bytes (6 MB).")

    async def invoke_endpoint(self, _context: RequestContext,
                              params: dict[str, Any]) -> dict[str, Any]:
        params = {**params, **{name: header_value(params[name], name)
                               for name in FORWARDED_HEADERS if name in params}}
        answer = await self.invoker.invoke(
            params["EndpointName"], params.get("Body", b""),
            content_type=params.get("ContentType"), accept=params.get("Accept"),
            custom_attributes=params.get("CustomAttributes"),
            target_variant=params.get("TargetVariant"),
            inference_id=params.get("InferenceId"))
        return {"Body": answer.body, "ContentType": answer.content_type,
                "InvokedProductionVariant": answer.variant,
                "CustomAttributes": answer.custom_attributes}


def plain_endpoint(wire: WireRequest) -> str | None:
    """The endpoint a plain InvokeEndpoint calls (see the module's docstring), else None."""
    if wire.method != "POST" or wire.query or not wire.body:
        return None
    match = PLAIN_PATH.fullmatch(wire.path)
    if match is None or len(match[1]) > MAX_NAME:
        return None
    for name, value in wire.headers.raw:  # names in lower case, as ASGI servers give them
        if name.startswith(MODELED_PREFIX) or (name in RAW_PLAIN_HEADERS and (
                len(value) > MAX_PLAIN_HEADER or not value.isascii())):
            return None
    return match[1]
