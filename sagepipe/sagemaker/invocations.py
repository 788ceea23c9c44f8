"""InvokeEndpoint behind the runtime edge: route to a variant's server, proxy, map its errors.

Invocations go through one pooled async HTTP client to the fleet the Router names; the fleet's
in-flight count covers the whole call, so a blue/green switch drains it before stopping it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.concurrency import run_in_threadpool

from sagepipe.config import ACCOUNT_ID, Settings, arn
from sagepipe.runtime.exceptions import ModelError, ServiceUnavailable, ValidationError
from sagepipe.sagemaker.capture import CaptureWriter
from sagepipe.sagemaker.catalog import ENDPOINT
from sagepipe.sagemaker.hosting import Router
from sagepipe.sagemaker.relay import async_transport
from sagepipe.sagemaker.resources import Resources

INVOCATION_TIMEOUT = 60.0  # SageMaker's limit for a model's answer
# httpx logs every request at INFO: one gateway log line per invocation and per health poll.
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass
class Invocation:
    """A model's answer, as InvokeEndpoint returns it."""

    body: bytes
    content_type: str | None
    variant: str
    custom_attributes: str | None


class Invoker:
    def __init__(self, router: Router, capture: CaptureWriter, resources: Resources,
                 settings: Settings) -> None:
        self.router = router
        self.capture = capture
        self.resources = resources
        self.settings = settings
        self._client: httpx.AsyncClient | None = None

    async def invoke(self, endpoint: str, body: bytes, *, content_type: str | None,
                     accept: str | None, custom_attributes: str | None,
                     target_variant: str | None, inference_id: str | None) -> Invocation:
        """Forward one invocation to a variant's server (picked by weight or TargetVariant)."""
        fleet = self.router.acquire(endpoint)
        if fleet is None:
            raise await run_in_threadpool(self._not_serving, endpoint)
        try:
            replica = fleet.pick(target_variant)
            headers = {header: value for header, value in (
                ("Content-Type", content_type), ("Accept", accept),
                ("X-Amzn-SageMaker-Custom-Attributes", custom_attributes),
                ("X-Amzn-SageMaker-Inference-Id", inference_id)) if value}
            try:
                reply = await self._http().post(f"{replica.url}/invocations", content=body,
                                                headers=headers)
            except httpx.TimeoutException:
                raise self._model_error(endpoint, 0, replica.log_path, (
                    "Your invocation timed out while waiting for a response from container "
                    f"primary after {INVOCATION_TIMEOUT:.0f}s.")) from None
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(
                    f"The model server of production variant {replica.spec.name} of endpoint "
                    f"{endpoint} is not answering ({type(exc).__name__}{replica.exit_note()}); "
                    f"see {replica.log_path}.") from None
        finally:
            self.router.release(fleet)
        if not 200 <= reply.status_code < 300:
            raise self._model_error(endpoint, reply.status_code, replica.log_path,
                                    reply.content.decode(errors="replace"))
        answer = Invocation(reply.content, reply.headers.get("content-type"), replica.spec.name,
                            reply.headers.get("x-amzn-sagemaker-custom-attributes"))
        capture = fleet.deployment.capture
        if capture and capture.get("EnableCapture", True):
            self.capture.record(capture, endpoint, replica.spec.name, request=body,
                                request_type=content_type, response=answer.body,
                                response_type=answer.content_type, inference_id=inference_id)
        return answer

    def _http(self) -> httpx.AsyncClient:
        """One pooled client, made on first use inside the gateway's event loop."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(INVOCATION_TIMEOUT, connect=5), trust_env=False,
                transport=async_transport(httpx.Limits(max_connections=256,
                                                       max_keepalive_connections=64)))
        return self._client

    def _model_error(self, endpoint: str, status: int, log_path: Path, message: str) -> ModelError:
        side = "client" if 400 <= status < 500 else "server"
        return ModelError(
            f'Received {side} error ({status}) from primary with message '
            f'"{message}". See {log_path} for more information.',
            OriginalStatusCode=status, OriginalMessage=message,
            LogStreamArn=arn("logs", f"log-group:/aws/sagemaker/Endpoints/{endpoint}",
                             self.settings.region))

    def _not_serving(self, endpoint: str) -> ValidationError | ServiceUnavailable:
        """Why an endpoint with no fleet taking traffic cannot be invoked."""
        doc = self.resources.find(ENDPOINT, endpoint)
        if doc is None:
            return ValidationError(f"Endpoint {endpoint} of account {ACCOUNT_ID} not found.")
        status = doc["EndpointStatus"]
        if status == "SystemUpdating":
            return ServiceUnavailable(f"Endpoint {endpoint} is being restored after the local "
                                      "AWS restarted; retry in a few seconds.")
        reason = f" FailureReason: {doc['FailureReason']}" if "FailureReason" in doc else ""
        return ValidationError(f"Endpoint {endpoint} of account {ACCOUNT_ID} is not InService "
                               f"(status {status}); wait for it with boto3's "
                               f"'endpoint_in_service' waiter.{reason}")
