"""Helpers for the Step Functions service tests: definitions and bounded waits over the API."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"
SAGEMAKER_ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
SAGEMAKER = "arn:aws:states:::sagemaker:"
S3_SDK = "arn:aws:states:::aws-sdk:s3:"
RESOURCES = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def machine(states: dict, start: str | None = None, **top: Any) -> str:
    return json.dumps({"StartAt": start or next(iter(states)), "States": states, **top})


def passes(count: int) -> str:
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(count - 1)}
    states[f"S{count - 1}"] = {"Type": "Pass", "End": True}
    return json.dumps({"StartAt": "S0", "States": states})


WAITING = machine({"Hold": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Done"},
                   "Done": {"Type": "Pass", "Result": "done", "End": True}})


def create(sfn: Any, definition: str, name: str | None = None, **options: Any) -> str:
    return sfn.create_state_machine(name=name or unique("sm"), definition=definition,
                                    roleArn=ROLE, **options)["stateMachineArn"]


def wait_until_done(sfn: Any, execution_arn: str, timeout: float = 300) -> dict:
    """DescribeExecution once the execution has ended (a bounded wait, not a speed check)."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} still RUNNING after {timeout} s")
        time.sleep(0.2)


def wait_for_event(sfn: Any, execution_arn: str, event_type: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in history(sfn, execution_arn) if e["type"] == event_type]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event_type} in {execution_arn} after {timeout} s")
        time.sleep(0.2)


def history(sfn: Any, execution_arn: str, **options: Any) -> list[dict]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn,
                                                                **options)
    return [event for page in pages for event in page["events"]]


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def details(event: dict) -> dict:
    return next(v for k, v in event.items() if k.endswith("EventDetails"))
