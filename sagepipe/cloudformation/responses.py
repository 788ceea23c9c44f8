"""The local CloudFormation API on the wire (query protocol): DescribeStacks and DeleteStack over
the stacks the local pipeline's CloudFormation actions deploy (stacks.py), so that the pipeline's
own scripts that look at or clear a stack through boto3 (CodePipeline/scripts/
clear_failed_create.py) run unchanged against the local AWS. Deploys stay the pipeline's
actions: every other operation answers NotImplemented.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sagepipe.cloudformation.exceptions import ValidationError
from sagepipe.cloudformation.stacks import StackError, Stacks
from sagepipe.edge import AwsService


def cloudformation_service(stacks: Stacks) -> AwsService:
    return AwsService("cloudformation", "CloudFormation", {
        "DescribeStacks": lambda params: describe_stacks(stacks, params),
        "DeleteStack": lambda params: delete_stack(stacks, params),
    })


def stack_name(name_or_id: str) -> str:
    """The name of `name_or_id`: a stack id is `arn:...:stack/<name>/<uuid>`."""
    return name_or_id.split("/")[1] if name_or_id.startswith("arn:") else name_or_id


def describe_stacks(stacks: Stacks, params: dict[str, Any]) -> dict[str, Any]:
    name = stack_name(params.get("StackName", ""))
    if not name:
        raise ValidationError("StackName is required: the local CloudFormation describes one "
                              "stack at a time.")
    doc = stacks.describe(name)
    if doc is None:
        raise ValidationError(f"Stack with id {name} does not exist")
    return {"Stacks": [stack_summary(doc)]}


def delete_stack(stacks: Stacks, params: dict[str, Any]) -> None:
    """As in AWS, a deletion that fails is not the call's error: the stack is left
    DELETE_FAILED, with the reason, for DescribeStacks to show."""
    with contextlib.suppress(StackError):
        stacks.delete(stack_name(params["StackName"]))


def stack_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """A `Stack` of DescribeStacks' output from a stored stack (stacks.py)."""
    return {
        "StackId": doc["StackId"], "StackName": doc["StackName"],
        "Parameters": [{"ParameterKey": k, "ParameterValue": v}
                       for k, v in doc.get("Parameters", {}).items()],
        "CreationTime": doc["CreationTime"], "LastUpdatedTime": doc["LastUpdatedTime"],
        "StackStatus": doc["Status"], "StackStatusReason": doc.get("StatusReason") or None,
        "Outputs": [{"OutputKey": k, "OutputValue": v}
                    for k, v in doc.get("Outputs", {}).items()],
    }
