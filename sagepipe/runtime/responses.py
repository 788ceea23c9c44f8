"""The SageMaker Runtime wire protocol (REST-JSON, botocore's `sagemaker-runtime` model).

`POST /endpoints/{EndpointName}/invocations`: the raw body goes to the endpoint's model server
with Content-Type, Accept and the custom attributes; its answer comes back raw, with
Content-Type and `x-Amzn-Invoked-Production-Variant`. Errors are `{"message": ...}` plus the
error shape's members, with `x-amzn-ErrorType: <Code>`.
"""

from __future__ import annotations

import logging
import re
import uuid

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sagepipe.errors import AWSError
from sagepipe.sagemaker.endpoints import Endpoints

log = logging.getLogger(__name__)

MAX_PAYLOAD = 6 * 1024 * 1024  # InvokeEndpoint's limit on a request body
ROUTE = re.compile(r"^/endpoints/(?P<name>[^/]+)/(?P<action>[^/]+)$")
NOT_EMULATED = {"async-invocations": "InvokeEndpointAsync",
                "invocations-response-stream": "InvokeEndpointWithResponseStream"}


def error_response(err: AWSError) -> Response:
    return Response(orjson.dumps({"message": err.message, **err.extra}), status_code=err.status,
                    media_type="application/json",
                    headers={"x-amzn-ErrorType": err.code, "x-amzn-RequestId": str(uuid.uuid4())})


async def read_body(request: Request) -> bytes:
    """The request body, refused (after reading it off the wire) when above MAX_PAYLOAD."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_PAYLOAD:
            chunks.append(chunk)
    if size > MAX_PAYLOAD:
        raise AWSError("ValidationError", f"Request payload is too large: {size} bytes; "
                       f"InvokeEndpoint accepts at most {MAX_PAYLOAD} bytes (6 MB).", 413)
    return b"".join(chunks)


class RuntimeService:
    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints

    async def __call__(self, request: Request) -> Response:
        try:
            return await self._invoke(request)
        except AWSError as err:
            return error_response(err)
        except Exception:  # a bug of ours: log it here, never send a traceback to the client
            log.exception("internal error in SageMaker Runtime")
            return error_response(AWSError("InternalFailure", "sagepipe hit an internal error; "
                                           "see the gateway log (`sagepipe logs gateway`).", 500))

    async def _invoke(self, request: Request) -> Response:
        route = ROUTE.match(request.url.path)
        action = route["action"] if route else None
        if action in NOT_EMULATED and request.method == "POST":
            raise AWSError("NotImplemented", f"sagepipe's local SageMaker Runtime does not "
                           f"emulate {NOT_EMULATED[action]}; use InvokeEndpoint.", 501)
        if route is None or action != "invocations" or request.method != "POST":
            raise AWSError("UnknownOperationException", f"SageMaker Runtime has no operation at "
                           f"{request.method} {request.url.path}; InvokeEndpoint is POST "
                           "/endpoints/{EndpointName}/invocations.", 404)
        headers = request.headers
        body = await read_body(request)
        answer = await self.endpoints.invoker.invoke(
            route["name"], body, content_type=headers.get("content-type"),
            accept=headers.get("accept"),
            custom_attributes=headers.get("x-amzn-sagemaker-custom-attributes"),
            target_variant=headers.get("x-amzn-sagemaker-target-variant"),
            inference_id=headers.get("x-amzn-sagemaker-inference-id"))
        reply = {"x-Amzn-Invoked-Production-Variant": answer.variant,
                 "x-amzn-RequestId": str(uuid.uuid4())}
        if answer.content_type:
            reply["Content-Type"] = answer.content_type
        if answer.custom_attributes:
            reply["X-Amzn-SageMaker-Custom-Attributes"] = answer.custom_attributes
        return Response(answer.body, headers=reply)
