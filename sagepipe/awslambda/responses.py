"""Lambda on the wire (REST-JSON, botocore's `lambda` model): the operations the local Lambda
serves, and the gateway's route behind GetFunction's Code.Location.

Invoke runs in threads of its own (INVOKE_THREADS), not the edge's shared pool: an invocation
may take the function's whole timeout, and must not hold up other services' calls.
"""

from __future__ import annotations

import functools
from typing import Any

import anyio
from starlette.responses import Response

from sagepipe.awslambda.exceptions import RequestEntityTooLargeException
from sagepipe.awslambda.models import LambdaBackend
from sagepipe.edge import AwsService, Handler, RequestContext
from sagepipe.errors import AWSError

MAX_REQUEST = 69_905_067  # CreateFunction's limit: a 50 MB zip, base64-encoded in JSON
INVOKE_THREADS = 64

ROUTES = {("GET", "/_sagepipe/lambda/code/{name}"): "GetFunctionCode"}


class LambdaService(AwsService):
    max_body = MAX_REQUEST

    def __init__(self, backend: LambdaBackend) -> None:
        self.backend = backend
        self.limiter = anyio.CapacityLimiter(INVOKE_THREADS)
        update_event_config = backend.update_function_event_invoke_config
        super().__init__("lambda", "Lambda", {
            "CreateFunction": backend.create_function,
            "GetFunction": backend.get_function,
            "GetFunctionConfiguration": backend.get_function_configuration,
            "ListFunctions": backend.list_functions,
            "UpdateFunctionCode": backend.update_function_code,
            "UpdateFunctionConfiguration": backend.update_function_configuration,
            "DeleteFunction": backend.delete_function,
            "PublishVersion": backend.publish_version,
            "ListVersionsByFunction": backend.list_versions_by_function,
            "Invoke": self.invoke,
            "AddPermission": backend.add_permission,
            "RemovePermission": backend.remove_permission,
            "GetPolicy": backend.get_policy,
            "PutFunctionEventInvokeConfig": backend.put_function_event_invoke_config,
            "UpdateFunctionEventInvokeConfig": update_event_config,
            "GetFunctionEventInvokeConfig": backend.get_function_event_invoke_config,
            "DeleteFunctionEventInvokeConfig": backend.delete_function_event_invoke_config,
            "TagResource": backend.tag_resource,
            "UntagResource": backend.untag_resource,
            "ListTags": backend.list_tags,
        })

    def body_too_large(self, size: int) -> AWSError:
        return RequestEntityTooLargeException(f"Request must be smaller than {MAX_REQUEST} bytes "
                                              f"(this one has {size}).")

    async def invoke(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(
            functools.partial(self.backend.invoke, params, context.request_id),
            limiter=self.limiter)


def lambda_internal_handlers(backend: LambdaBackend) -> dict[str, Handler]:
    return {"GetFunctionCode": lambda p: Response(backend.code_file(p["name"]),
                                                  media_type="application/zip")}
