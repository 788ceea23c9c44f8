"""Resource ARNs of Step Functions' service integrations."""

from __future__ import annotations

from enum import Enum


class IntegrationPattern(Enum):
    """How a Task waits: not at all, for the job to finish (`.sync`), or for a task token."""

    CallAndContinue = ""
    WaitForCompletion = "sync"
    WaitForTaskToken = "waitForTaskToken"


def integration_pattern(wait: bool, token: bool = False) -> IntegrationPattern:
    """The pattern of a step's `wait_for_completion` (`wait`) and `wait_for_callback` (`token`)."""
    if token:
        return IntegrationPattern.WaitForTaskToken
    return IntegrationPattern.WaitForCompletion if wait else IntegrationPattern.CallAndContinue


def get_service_integration_arn(service: str, api: str | Enum,
                                integration_pattern: IntegrationPattern =
                                IntegrationPattern.CallAndContinue) -> str:
    """`arn:aws:states:::sagemaker:createTrainingJob.sync` and the like."""
    name = api.value if isinstance(api, Enum) else api
    suffix = f".{integration_pattern.value}" if integration_pattern.value else ""
    return f"arn:aws:states:::{service}:{name}{suffix}"
