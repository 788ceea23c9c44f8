"""Task states for compute services: Lambda, Glue, Batch, ECS."""

from __future__ import annotations

from typing import Any, ClassVar

from ds_stepfunctions.steps.integration_resources import (
    get_service_integration_arn,
    integration_pattern,
)
from ds_stepfunctions.steps.states import Task


class LambdaStep(Task):
    """Invokes a Lambda function: `parameters={"FunctionName": ..., "Payload": {...}}`; the
    function's result is at `$['Payload']` of the step's output."""

    def __init__(self, state_id: str, wait_for_callback: bool = False, **kwargs: Any) -> None:
        kwargs["resource"] = get_service_integration_arn(
            "lambda", "invoke", integration_pattern(False, token=wait_for_callback))
        super().__init__(state_id, **kwargs)


class _JobStep(Task):
    """Starts a job with the integration `service:action`, by default waiting until it ends."""

    service: ClassVar[str]
    action: ClassVar[str]

    def __init__(self, state_id: str, wait_for_completion: bool = True, **kwargs: Any) -> None:
        kwargs["resource"] = get_service_integration_arn(
            self.service, self.action, integration_pattern(wait_for_completion))
        super().__init__(state_id, **kwargs)


class GlueStartJobRunStep(_JobStep):
    """Runs a Glue job (`parameters={"JobName": ...}`), by default until it ends."""

    service, action = "glue", "startJobRun"


class BatchSubmitJobStep(_JobStep):
    """Submits an AWS Batch job, by default waiting until it ends."""

    service, action = "batch", "submitJob"


class EcsRunTaskStep(_JobStep):
    """Runs an ECS task, by default waiting until it ends."""

    service, action = "ecs", "runTask"
