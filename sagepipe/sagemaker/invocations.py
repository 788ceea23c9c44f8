"""InvokeEndpoint behind the runtime edge: route to a variant's server, proxy, map its errors.

Invocations go over the persistent connections of `upstream.Upstream` to the fleet the Router
names; the fleet's in-flight count covers the whole call, so a blue/green switch drains it
before stopping it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from sagepipe.config import ACCOUNT_ID, HOST, Settings, arn
from sagepipe.runtime.exceptions import ModelError, ServiceUnavailable, ValidationError
from sagepipe.sagemaker.capture import CaptureWriter
from sagepipe.sagemaker.catalog import ENDPOINT
from sagepipe.sagemaker.hosting import Router
from sagepipe.sagemaker.resources import Resources
from sagepipe.sagemaker.upstream import TimedOut, Upstream, UpstreamError

INVOCATION_TIMEOUT = 60.0  # SageMaker's limit for a model's answer


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
        self.upstream = Upstream()

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
                ("Content-Type", content_type), ("Accept", accept or "*/*"),
                ("X-Amzn-SageMaker-Custom-Attributes", custom_attributes),
                ("X-Amzn-SageMaker-Inference-Id", inference_id)) if value}
            try:
                reply = await self.upstream.post(HOST, replica.port, "/invocations", headers,
                                                 body, INVOCATION_TIMEOUT)
            except TimedOut:
                raise self._model_error(endpoint, 0, replica.log_path, (
                    "Your invocation timed out while waiting for a response from container "
                    f"primary after {INVOCATION_TIMEOUT:.0f}s.")) from None
            except UpstreamError as exc:
                raise ServiceUnavailable(
                    f"The model server of production variant {replica.spec.name} of endpoint "
                    f"{endpoint} is not answering ({exc}{replica.exit_note()}); "
                    f"see {replica.log_path}.") from None
        finally:
            self.router.release(fleet)
        if not 200 <= reply.status < 300:
            raise self._model_error(endpoint, reply.status, replica.log_path,
                                    reply.body.decode(errors="replace"))
        answer = Invocation(reply.body, reply.headers.get("content-type"), replica.spec.name,
                            reply.headers.get("x-amzn-sagemaker-custom-attributes"))
        capture = fleet.deployment.capture
        if capture and capture.get("EnableCapture", True):
            self.capture.record(capture, endpoint, replica.spec.name, request=body,
                                request_type=content_type, response=answer.body,
                                response_type=answer.content_type, inference_id=inference_id)
        return answer

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
