"""Task states for compute services: Lambda, Glue, Batch, ECS."""

from __future__ import annotations

from typing import Any

from ds_stepfunctions.steps.integration_resources import (
    IntegrationPattern,
    get_service_integration_arn,
)
from ds_stepfunctions.steps.states import Task


def _pattern(wait: bool, token: bool = False) -> IntegrationPattern:
    if token:
        return IntegrationPattern.WaitForTaskToken
    return IntegrationPattern.WaitForCompletion if wait else IntegrationPattern.CallAndContinue


class LambdaStep(Task):
    """Invokes a Lambda function: `parameters={"FunctionName": ..., "Payload": {...}}`; the
    function's result is at `$['Payload']` of the step's output."""

    def __init__(self, state_id: str, wait_for_callback: bool = False, **kwargs: Any) -> None:
        kwargs["resource"] = get_service_integration_arn(
            "lambda", "invoke", _pattern(False, token=wait_for_callback))
        super().__init__(state_id, **kwargs)


class GlueStartJobRunStep(Task):
    """Runs a Glue job (`parameters={"JobName": ...}`), by default until it ends."""

    def __init__(self, state_id: str, wait_for_completion: bool = True, **kwargs: Any) -> None:
        kwargs["resource"] = get_service_integration_arn("glue", "startJobRun",
                                                         _pattern(wait_for_completion))
        super().__init__(state_id, **kwargs)


class BatchSubmitJobStep(Task):
    """Submits an AWS Batch job, by default waiting until it ends."""

    def __init__(self, state_id: str, wait_for_completion: bool = True, **kwargs: Any) -> None:
        kwargs["resource"] = get_service_integration_arn("batch", "submitJob",
                                                         _pattern(wait_for_completion))
        super().__init__(state_id, **kwargs)


class EcsRunTaskStep(Task):
    """Runs an ECS task, by default waiting until it ends."""

    def __init__(self, state_id: str, wait_for_completion: bool = True, **kwargs: Any) -> None:
        kwargs["resource"] = get_service_integration_arn("ecs", "runTask",
                                                         _pattern(wait_for_completion))
        super().__init__(state_id, **kwargs)
