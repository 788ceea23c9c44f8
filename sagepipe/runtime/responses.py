"""The SageMaker Runtime on the wire (REST-JSON, botocore's `sagemaker-runtime` model).

`InvokeEndpoint` is the one operation served: the raw body goes to the endpoint's model server
with Content-Type, Accept and the custom attributes; its answer comes back raw, with
Content-Type and `x-Amzn-Invoked-Production-Variant`. The others answer NotImplemented.
"""

from __future__ import annotations

import re
from typing import Any

from sagepipe.edge import AwsService, RequestContext
from sagepipe.errors import AWSError
from sagepipe.runtime.exceptions import PayloadTooLarge, ValidationError
from sagepipe.sagemaker.invocations import Invoker

MAX_PAYLOAD = 6 * 1024 * 1024  # InvokeEndpoint's limit on a request body
FORWARDED_HEADERS = ("ContentType", "Accept", "CustomAttributes", "InferenceId")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


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
