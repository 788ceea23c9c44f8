"""The gateway's internal route for the local image registry: what a `docker push` to ECR does.
The running local AWS owns the registry; `sagepipe image` and the local CodeBuild's `docker`
are its clients (through `sagepipe.clients.internal`). Not an AWS API, so plain JSON:

    PUT /_sagepipe/images   {"uri": URI, "directory": ABSOLUTE_DIR}   register (or re-point) URI
    GET /_sagepipe/images                                            [{"uri", "directory"}, ...]
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sagepipe.errors import AWSError
from sagepipe.images import ImageRegistry
from sagepipe.protocols.aws_json import error_response

log = logging.getLogger(__name__)


class ImageRoutes:
    PATH = "/_sagepipe/images"

    def __init__(self, images: ImageRegistry) -> None:
        self.images = images

    async def __call__(self, request: Request) -> Response:
        try:
            if request.method == "GET":
                return JSONResponse([{"uri": uri, "directory": directory}
                                     for uri, directory in self.images.all()])
            if request.method == "PUT":
                uri, directory = _registration(await request.body())
                registered = await run_in_threadpool(self.images.register, directory, uri)
                return JSONResponse({"uri": uri, "directory": str(registered)})
            raise AWSError("UnknownOperationException",
                           f"no internal operation at {request.method} {self.PATH}", 404)
        except AWSError as err:
            return error_response(err)
        except Exception:  # a bug of ours: logged here, never a traceback to the client
            log.exception("internal error in the image registry")
            return error_response(AWSError("InternalFailure", "sagepipe hit an internal error; "
                                           "see the gateway log (`sagepipe logs gateway`).", 500))


def _registration(body: bytes) -> tuple[str, Path]:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AWSError("SerializationException", f"body is not JSON: {exc}") from None
    if not isinstance(request, dict) or not all(
            isinstance(request.get(k), str) for k in ("uri", "directory")):
        raise AWSError("SerializationException",
                       'body must be {"uri": "...", "directory": "/absolute/path"}')
    directory = Path(request["directory"])
    if not directory.is_absolute():
        raise AWSError("ValidationException", f"directory {directory} must be an absolute path "
                       "(the local AWS does not share the caller's working directory)")
    return request["uri"], directory
