"""One stack's operations run one after the other in its worker; whether the stack takes the
next one is its status's say (AWS's rule), also while the worker is still finishing the
bookkeeping of the operation that set that status."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from testkit import wait_until

from sagepipe.cloudformation.exceptions import ValidationError
from sagepipe.cloudformation.models import CloudFormation
from sagepipe.cloudformation.stacks import Stacks
from sagepipe.config import Settings
from sagepipe.store import Store

TEMPLATE = """
Parameters:
  Text: {Type: String}
Resources:
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {AlarmDescription: !Ref Text}
"""


def status(cfn: CloudFormation, name: str) -> str:
    return cfn.describe_stacks({"StackName": name})["Stacks"][0]["StackStatus"]


def text(value: str) -> dict[str, Any]:
    return {"TemplateBody": TEMPLATE, "Parameters": [{"ParameterKey": "Text",
                                                      "ParameterValue": value}]}


def finishing_operation(tmp_path) -> tuple[CloudFormation, str, threading.Event]:
    """A stack at CREATE_COMPLETE whose worker is still busy (as with an operation's
    bookkeeping after its status is final) until the returned event is set."""
    # These types need no running local AWS: the CloudWatch alarm is recorded, not called.
    cfn = CloudFormation(Store(tmp_path / "state.db"), Settings(home=tmp_path), files=None)
    stack_id = cfn.create_stack({"StackName": "s", **text("one")})["StackId"]
    wait_until(lambda: status(cfn, "s"), lambda s: s == "CREATE_COMPLETE", "the create", 30)
    finishing, release = threading.Event(), threading.Event()

    def bookkeeping(_engine: Stacks) -> None:
        finishing.set()
        release.wait(30)
    with cfn._lock:
        cfn._start(stack_id, bookkeeping, None)
    assert finishing.wait(10)
    return cfn, stack_id, release


def drained(cfn: CloudFormation, stack_id: str) -> dict[str, Any]:
    wait_until(lambda: cfn.busy(stack_id), lambda busy: not busy, "the queue to drain", 30)
    return cfn.describe_stacks({"StackName": stack_id})["Stacks"][0]


def test_an_update_right_after_complete_queues_behind_the_finishing_operation(tmp_path):
    cfn, stack_id, release = finishing_operation(tmp_path)
    cfn.update_stack({"StackName": "s", **text("two")})  # refused before: "can not be updated"
    assert status(cfn, "s") == "UPDATE_IN_PROGRESS"
    with pytest.raises(ValidationError, match="UPDATE_IN_PROGRESS state and can not be updated"):
        cfn.update_stack({"StackName": "s", **text("three")})
    release.set()
    stack = drained(cfn, stack_id)
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Parameters"] == [{"ParameterKey": "Text", "ParameterValue": "two"}]


def test_an_update_is_refused_while_a_delete_waits_in_the_queue(tmp_path):
    cfn, stack_id, release = finishing_operation(tmp_path)
    cfn.delete_stack({"StackName": "s"})  # queued behind the finishing operation
    assert status(cfn, "s") == "CREATE_COMPLETE"
    with pytest.raises(ValidationError, match="CREATE_COMPLETE state and can not be updated"):
        cfn.update_stack({"StackName": "s", **text("two")})
    release.set()
    assert drained(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
