"""The single local endpoint: routes each request to its service, as AWS's front door would.

The service comes from the SigV4 credential scope that every AWS SDK signs with
(`.../<region>/<service>/aws4_request`) and, where services share a signing name (SageMaker
and its runtime), from the `X-Amz-Target` prefix of the JSON protocol: `SERVICES` below is that
table. Every request then goes through the one edge (sagepipe.edge): its Host must be a
loopback name and its signature must hold for the home's credentials, else it is refused in
the service's own protocol. A service that is not emulated answers NotImplemented in its own
protocol; an unsigned request is answered in the protocol it looks like.
"""

from __future__ import annotations

import gc
import logging
import os
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from sagepipe import __version__, clients
from sagepipe.apigateway.models import ApiHosting
from sagepipe.apigateway.responses import ROUTES as SERVERLESS_ROUTES
from sagepipe.apigateway.responses import serverless_handlers
from sagepipe.auth import Authenticator
from sagepipe.awslambda.models import LambdaBackend
from sagepipe.awslambda.responses import ROUTES as LAMBDA_ROUTES
from sagepipe.awslambda.responses import LambdaService, lambda_internal_handlers
from sagepipe.cloudformation.models import CloudFormation
from sagepipe.cloudformation.responses import cloudformation_service
from sagepipe.codebuild.models import CodeBuild
from sagepipe.codebuild.responses import codebuild_service
from sagepipe.codeconnections.models import Connections
from sagepipe.codeconnections.responses import codeconnections_services
from sagepipe.codepipeline.models import CodePipeline
from sagepipe.codepipeline.responses import ROUTES as GIT_ROUTES
from sagepipe.codepipeline.responses import codepipeline_service, git_handlers
from sagepipe.config import Settings
from sagepipe.credentials import private_home
from sagepipe.ecr.models import Ecr
from sagepipe.ecr.responses import ROUTES as IMAGE_ROUTES
from sagepipe.ecr.responses import ecr_service, image_handlers
from sagepipe.edge import EdgeRequest, Service, serve, wire_request
from sagepipe.errors import NotEmulated
from sagepipe.iam.models import Iam
from sagepipe.iam.responses import iam_service
from sagepipe.images import ImageRegistry
from sagepipe.internal import HEALTH_PATH, PREFIX, InternalService
from sagepipe.logs.models import CloudWatchLogs
from sagepipe.logs.responses import logs_service
from sagepipe.protocols import protocol_for
from sagepipe.protocols.aws_json import JsonProtocol
from sagepipe.protocols.query import FORM, QueryProtocol
from sagepipe.protocols.rest_json import RestJsonProtocol
from sagepipe.protocols.service_models import models_by_signing_name
from sagepipe.protocols.wire import WireRequest
from sagepipe.runtime.responses import RuntimeService
from sagepipe.s3.models import S3Backend
from sagepipe.s3.notifications import LambdaNotifier
from sagepipe.s3.responses import S3Service
from sagepipe.sagemaker.models import SageMakerBackend
from sagepipe.sagemaker.responses import sagemaker_service
from sagepipe.sigv4 import signing_scope
from sagepipe.sns.delivery import LambdaDelivery
from sagepipe.sns.models import Sns
from sagepipe.sns.responses import sns_service
from sagepipe.stepfunctions.integrations import AwsIntegrations, local_clients
from sagepipe.stepfunctions.models import StepFunctions
from sagepipe.stepfunctions.responses import stepfunctions_service
from sagepipe.store import Store
from sagepipe.sts.models import Sts
from sagepipe.sts.responses import sts_service

log = logging.getLogger(__name__)
METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")


class NotEmulatedService(Service):
    """A service the local AWS does not emulate, answered in its own protocol (botocore's
    model says which), so that the SDK shows the message instead of failing to read it."""

    handlers: dict[str, Any] = {}

    def __init__(self, signing_name: str, emulated: str) -> None:
        model = models_by_signing_name().get(signing_name)
        self.signing_name = signing_name
        self.label = signing_name
        self.emulated = emulated
        if model is None:
            self.protocol = JsonProtocol(None)
        elif model.resolved_protocol in ("query", "ec2"):
            self.protocol = QueryProtocol(model)
        else:
            self.protocol = protocol_for(model)

    def operation(self, wire: WireRequest) -> Any:
        raise NotEmulated(f"sagepipe's local AWS does not emulate the {self.signing_name} "
                          f"service (it serves {self.emulated}); run this call against AWS.")


def in_words(names: list[str]) -> str:
    """`A, B and C`."""
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]]))


class ServiceTable:
    """Signing name [+ target prefix] -> service."""

    def __init__(self, services: list[Service]) -> None:
        self.services = services
        self.by_scope = {(s.signing_name, s.target_prefix): s for s in services}
        self.internal = next(s for s in services if isinstance(s, InternalService))
        self.fallback = next(s for s in services if s.signing_name == "s3")
        # What a call to another service is told this local AWS serves: the table itself.
        self.emulated = in_words([s.label for s in services if s is not self.internal])

    def not_emulated(self, signing_name: str) -> NotEmulatedService:
        return NotEmulatedService(signing_name, self.emulated)

    def select(self, request: Request) -> Service:
        scope = signing_scope(request.headers, request.scope.get("query_string",
                                                                  b"").decode("latin-1"))
        target = request.headers.get("x-amz-target", "").rpartition(".")[0] or None
        if scope is not None:
            signing_name = scope[1]
            return (self.by_scope.get((signing_name, target))
                    or self.by_scope.get((signing_name, None))
                    or self.not_emulated(signing_name))
        return self._unsigned(request, target)

    def _unsigned(self, request: Request, target: str | None) -> Service:
        """The service an unsigned request looks like, to refuse it in that protocol."""
        if request.url.path.startswith(PREFIX):
            return self.internal
        # The fallbacks are made only when needed: a NotEmulatedService reads every botocore
        # model the first time (seconds, on the event loop).
        if target is not None:
            return next((s for s in self.services if s.target_prefix == target), None) \
                or self.not_emulated("")
        if "Action=" in request.url.query or (
                request.method == "POST" and request.url.path == "/"
                and request.headers.get("content-type", "").startswith(FORM)):
            return next((s for s in self.services if s.protocol.name == "query"), None) \
                or self.not_emulated("sts")
        path = wire_request(request).path
        for service in self.services:
            if isinstance(service.protocol, RestJsonProtocol) and \
                    service.protocol.router.claims(path):
                return service
        return self.fallback  # anything else is an anonymous S3 call


class LocalAWS:
    """Owns the store and the service backends; `app` is the ASGI application to serve."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        private_home(settings.home)
        self.auth = Authenticator(settings.credentials)
        self.store = Store(settings.db_path)
        self.images = ImageRegistry(self.store)
        self.s3 = S3Backend(self.store, settings, LambdaNotifier(settings))
        self.sagemaker = SageMakerBackend(self.store, settings, self.s3.files, self.images)
        self.awslambda = LambdaBackend(self.store, settings, self.s3.files)
        self.apis = ApiHosting(self.store, settings, self.awslambda)
        # Task states reach this local AWS as any client does: boto3, the home's credentials.
        self.stepfunctions = StepFunctions(self.store, settings,
                                           AwsIntegrations(local_clients(settings)))
        self.iam = Iam(self.store)
        # Stack operations create and delete resources through the local AWS's own APIs.
        self.cloudformation = CloudFormation(self.store, settings, self.s3.files)
        self.sns = Sns(self.store, settings,
                       LambdaDelivery(lambda: clients.client(settings, "lambda")))
        self.codebuild = CodeBuild(self.store, settings)
        self.codepipeline = CodePipeline(self.store, settings)
        self.services = ServiceTable([
            S3Service(self.s3),
            sagemaker_service(self.sagemaker),
            RuntimeService(self.sagemaker.endpoints.invoker),
            ecr_service(Ecr(settings, self.images)),
            stepfunctions_service(self.stepfunctions),
            LambdaService(self.awslambda),
            cloudformation_service(self.cloudformation),
            sns_service(self.sns),
            codebuild_service(self.codebuild),
            *codeconnections_services(Connections(self.store, settings)),
            codepipeline_service(self.codepipeline),
            logs_service(CloudWatchLogs(settings)),
            iam_service(self.iam),
            sts_service(Sts(settings.credentials.secret_access_key, self.iam.find_role)),
            InternalService(
                {**SERVERLESS_ROUTES, **LAMBDA_ROUTES, **IMAGE_ROUTES, **GIT_ROUTES,
                 ("GET", "/_sagepipe/instance"): "Describe"},
                {**serverless_handlers(self.apis), **lambda_internal_handlers(self.awslambda),
                 **image_handlers(self.images), **git_handlers(self.codepipeline),
                 "Describe": self.describe}),
        ])
        # Starlette runs the lifespan; requests skip its middleware and router (a fifth of
        # the gateway's time per InvokeEndpoint) for the one route there is.
        self._lifespan_app = Starlette(lifespan=self._lifespan)

    @asynccontextmanager
    async def _lifespan(self, _app: Any):  # noqa: ANN202
        self.sagemaker.start()
        self.awslambda.start()
        self.apis.start()
        self.stepfunctions.start()
        self.cloudformation.start()
        self.codebuild.start()
        self.codepipeline.start()
        # What exists now (botocore's models, the services) lives as long as the process: out
        # of the collector's sight, a full collection takes no 50-100 ms pause in a request.
        gc.freeze()
        try:
            yield
        finally:
            self.stepfunctions.shutdown()  # first: executions stop their own jobs
            self.codepipeline.shutdown()  # then pipelines: their builds stop as abandoned
            self.codebuild.shutdown()
            self.apis.shutdown()
            self.awslambda.shutdown()
            self.sagemaker.shutdown()

    def describe(self, _params: dict[str, Any]) -> dict[str, Any]:
        """Which local AWS this is (signed: only the home's owner learns where it lives)."""
        return {"status": "running", "version": __version__, "home": str(self.settings.home),
                "pid": os.getpid()}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI application to serve."""
        if scope["type"] != "http":
            await self._lifespan_app(scope, receive, send)
            return
        # As Starlette's own entry does: its Request reads a malformed form as a 400
        # (HTTPException) only inside an app, a bare MultiPartException outside one.
        scope["app"] = self._lifespan_app
        request = EdgeRequest(scope, receive)
        response = await self._route(request)
        await response(scope, receive, send)

    async def _route(self, request: Request) -> Response:
        method = request.method
        if method not in METHODS:
            return PlainTextResponse("Method Not Allowed", 405,
                                     headers={"Allow": ", ".join(METHODS)})
        if method == "GET" and request.scope["path"] == HEALTH_PATH:
            return JSONResponse({"status": "running"})
        return await serve(self.services.select(request), request, self.auth)
