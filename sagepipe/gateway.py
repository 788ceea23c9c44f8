"""The single local endpoint: routes each request to its service, as AWS's front door would.

The service comes from the SigV4 credential scope that every AWS SDK signs with
(`.../<region>/<service>/aws4_request`); SageMaker's control plane and its runtime share the
signing name `sagemaker` and are told apart by `X-Amz-Target`.
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sagepipe import __version__
from sagepipe.apigateway.models import ApiHosting
from sagepipe.apigateway.responses import ServerlessService
from sagepipe.cloudformation.responses import CloudFormationService
from sagepipe.config import Settings
from sagepipe.ecr.models import Ecr
from sagepipe.ecr.registry_routes import ImageRoutes
from sagepipe.images import ImageRegistry
from sagepipe.protocols.aws_json import JsonProtocolService
from sagepipe.protocols.unsupported import unsupported_service
from sagepipe.runtime.responses import RuntimeService
from sagepipe.s3.models import S3Backend
from sagepipe.s3.responses import S3Service
from sagepipe.sagemaker.models import SageMakerBackend
from sagepipe.store import Store

log = logging.getLogger(__name__)

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def signing_service(request: Request) -> str | None:
    found = CREDENTIAL_SCOPE.search(request.headers.get("authorization", ""))
    if found is None:
        found = CREDENTIAL_SCOPE.search("Credential=" + request.query_params.get(
            "X-Amz-Credential", ""))
    return found.group(1) if found else None


class LocalAWS:
    """Owns the store and the service backends; `app` is the ASGI application to serve."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.db_path)
        self.images = ImageRegistry(self.store)
        self.s3 = S3Backend(self.store, settings)
        self.sagemaker = SageMakerBackend(self.store, settings, self.s3, self.images)
        self._s3 = S3Service(self.s3)
        self._sagemaker = JsonProtocolService(
            "sagemaker", [self.sagemaker.jobs, self.sagemaker.endpoints], "SageMaker")
        self._runtime = RuntimeService(self.sagemaker.endpoints)
        self._ecr = JsonProtocolService("ecr", [Ecr(settings, self.images)], "ECR")
        self._image_routes = ImageRoutes(self.images)
        self.apis = ApiHosting(self.store, settings, self.s3)
        self._serverless = ServerlessService(self.apis)
        self._cloudformation = CloudFormationService(self.store, settings)
        self.app = Starlette(lifespan=self._lifespan)
        self.app.add_route("/{path:path}", self._route,
                           methods=["GET", "PUT", "POST", "DELETE", "HEAD"])

    @asynccontextmanager
    async def _lifespan(self, _app: Any):  # noqa: ANN202
        self.sagemaker.start()
        self.apis.start()
        try:
            yield
        finally:
            self.apis.shutdown()
            self.sagemaker.shutdown()

    async def _route(self, request: Request) -> Response:
        if request.url.path == "/_sagepipe/health":
            return JSONResponse({"status": "running", "version": __version__,
                                 "home": str(self.settings.home)})
        if request.url.path.startswith(ServerlessService.PREFIX):
            return await self._serverless(request)
        if request.url.path == ImageRoutes.PATH:
            return await self._image_routes(request)
        service = signing_service(request)
        if service == "sagemaker":
            if request.headers.get("x-amz-target", "").startswith("SageMaker."):
                return await self._sagemaker(request)
            return await self._runtime(request)
        if service == "ecr":
            return await self._ecr(request)
        if service == "cloudformation":
            return await self._cloudformation(request)
        if service in (None, "s3"):  # unsigned requests are anonymous S3 calls
            return await self._s3(request)
        return unsupported_service(service)
