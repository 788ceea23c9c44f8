"""The gateway's internal routes for the local CloudFormation's serverless resource types
(sagepipe/cloudformation/providers/serverless.py) and the CLI; not an AWS API, plain JSON:

    PUT    /_sagepipe/serverless/functions/{name}   create or update a function
    DELETE /_sagepipe/serverless/functions/{name}
    PUT    /_sagepipe/serverless/restapis/{id}      create or update a REST API and serve it
    DELETE /_sagepipe/serverless/restapis/{id}
    GET    /_sagepipe/serverless/restapis           the APIs and where they serve
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sagepipe.apigateway.models import ApiHosting
from sagepipe.errors import AWSError
from sagepipe.protocols.aws_json import error_response

log = logging.getLogger(__name__)

ROUTE = re.compile(r"^/_sagepipe/serverless/(?P<kind>functions|restapis)(?:/(?P<name>[^/]+))?$")


class ServerlessService:
    PREFIX = "/_sagepipe/serverless/"

    def __init__(self, hosting: ApiHosting) -> None:
        self.hosting = hosting

    async def __call__(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except AWSError as err:
            return error_response(err)
        except Exception:  # a bug of ours: logged here, never a traceback to the client
            log.exception("internal error in the serverless hosting")
            return error_response(AWSError("InternalFailure", "sagepipe hit an internal error; "
                                           "see the gateway log (`sagepipe logs gateway`).", 500))

    async def _dispatch(self, request: Request) -> Response:
        route = ROUTE.match(request.url.path)
        kind, name = (route["kind"], route["name"]) if route else (None, None)
        if (kind, name, request.method) == ("restapis", None, "GET"):
            return JSONResponse(await run_in_threadpool(self.hosting.list_apis))
        deletes = {"functions": self.hosting.delete_function,
                   "restapis": self.hosting.delete_api}
        puts = {"functions": self.hosting.put_function, "restapis": self.hosting.put_api}
        if kind is not None and name is not None:
            if request.method == "DELETE":
                await run_in_threadpool(deletes[kind], name)
                return Response(status_code=204)
            if request.method == "PUT":
                body = await _json_object(request)
                return JSONResponse(await run_in_threadpool(puts[kind], name, body))
        raise AWSError("UnknownOperationException", f"no internal operation at "
                       f"{request.method} {request.url.path}", 404)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise AWSError("SerializationException", f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise AWSError("SerializationException", "body must be a JSON object")
    return body
