"""The resource-provider interface: a type is added by one provider registered by type name,
the engine asks it for `Ref`/`Fn::GetAtt`, creates, updates in place, replaces and deletes
through it with a Context (no SageMaker client), and keeps the stack's events in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sagepipe.cloudformation.providers import (
    PROVIDERS,
    Context,
    ResourceFailed,
    ResourceProvider,
    provider_for,
)
from sagepipe.cloudformation.providers.base import Recorded
from sagepipe.cloudformation.stacks import StackError, Stacks
from sagepipe.cloudformation.template import load
from sagepipe.config import Settings, arn
from sagepipe.store import Store

TEMPLATE = """
Parameters:
  Text: {Type: String}
  Suffix: {Type: String, Default: one}
Resources:
  Hello:
    Type: Test::Local::Greeting
    Properties: {Name: !Sub "hello-${Suffix}", Text: !Ref Text}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {AlarmDescription: !Sub "about ${Hello}"}
Outputs:
  Ref: {Value: !Ref Hello}
  Arn: {Value: !GetAtt Hello.Arn}
"""


class Greeting(ResourceProvider):
    """What a new provider looks like: one class, nothing else to edit but the registry."""

    type_name, name_property = "Test::Local::Greeting", "Name"
    updatable = frozenset({"Text"})
    emulated = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def ref(self, ctx: Context, name: str) -> str:
        return f"greeting/{name}"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("greetings", name)}

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        assert isinstance(ctx, Context) and ctx.region == "us-east-1"
        self.calls.append(("create", name, props["Text"]))

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.calls.append(("update", name, old["Text"], new["Text"]))

    def delete(self, ctx: Context, name: str) -> None:
        self.calls.append(("delete", name))


@pytest.fixture
def greeting(monkeypatch) -> Greeting:
    provider = Greeting()
    monkeypatch.setitem(PROVIDERS, provider.type_name, provider)
    return provider


@pytest.fixture
def stacks(tmp_path) -> Stacks:
    """The engine on a store of its own: these types need no running local AWS."""
    return Stacks(Store(tmp_path / "state.db"), Context(Settings(home=tmp_path), log=print))


@pytest.fixture
def body(tmp_path) -> dict[str, Any]:
    (tmp_path / "greeting.yaml").write_text(TEMPLATE)
    return load(tmp_path / "greeting.yaml")


def test_the_registry_is_keyed_by_each_providers_type():
    assert PROVIDERS, "no providers registered"
    for type_name, provider in PROVIDERS.items():
        assert provider.type_name == type_name
        assert isinstance(provider, ResourceProvider)
    assert PROVIDERS["AWS::SageMaker::Endpoint"].emulated
    assert PROVIDERS["AWS::SNS::Topic"].emulated
    unknown = provider_for("AWS::CloudWatch::Alarm")
    assert isinstance(unknown, Recorded) and not unknown.emulated


def test_arns_come_from_one_builder():
    assert arn("iam", "role/r") == "arn:aws:iam::000000000000:role/r"
    assert arn("s3", "bucket") == "arn:aws:s3:::bucket"
    assert arn("sns", "topic", "eu-west-1") == "arn:aws:sns:eu-west-1:000000000000:topic"
    ctx = Context(Settings(home=Path("/nonexistent")))
    assert PROVIDERS["AWS::IAM::Role"].attributes(ctx, "r")["Arn"] == arn("iam", "role/r")
    assert PROVIDERS["AWS::SNS::Topic"].ref(ctx, "t") == arn("sns", "t")


def test_a_registered_provider_is_created_updated_replaced_and_deleted_by_the_engine(
        greeting, stacks, body):
    outputs = stacks.deploy("greet", body, {"Text": "hi"})
    assert outputs == {"Ref": "greeting/hello-one", "Arn": arn("greetings", "hello-one")}
    assert greeting.calls == [("create", "hello-one", "hi")]

    stacks.deploy("greet", body, {"Text": "hello"})  # updatable: in place
    assert greeting.calls[-1] == ("update", "hello-one", "hi", "hello")

    greeting.calls.clear()
    stacks.deploy("greet", body, {"Text": "hello", "Suffix": "two"})  # a new name
    assert greeting.calls == [("create", "hello-two", "hello"), ("delete", "hello-one")]

    stack_id = stacks.describe("greet")["StackId"]
    assert stack_id.startswith(arn("cloudformation", "stack/greet/"))
    stacks.delete("greet")
    assert greeting.calls[-1] == ("delete", "hello-two")
    assert stacks.describe("greet") is None

    events = list(reversed(stacks.events(stack_id)))  # kept after the delete, as in AWS
    stack_states = [e["ResourceStatus"] for e in events if e["LogicalResourceId"] == "greet"]
    cleanup = ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert stack_states == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE",
                            "UPDATE_IN_PROGRESS", *cleanup, "UPDATE_IN_PROGRESS", *cleanup,
                            "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    hello = [(e["PhysicalResourceId"], e["ResourceStatus"]) for e in events
             if e["LogicalResourceId"] == "Hello"]
    # the physical id is what `Ref` returns, none until the creation starts, as in AWS
    assert hello[:2] == [("", "CREATE_IN_PROGRESS"), ("greeting/hello-one", "CREATE_COMPLETE")]
    assert ("greeting/hello-one", "DELETE_COMPLETE") in hello
    assert hello[-1] == ("greeting/hello-two", "DELETE_COMPLETE")
    alarm = next(e for e in events if e["LogicalResourceId"] == "Alarm"
                 and e["ResourceStatus"] == "CREATE_COMPLETE")
    assert alarm["ResourceStatusReason"] == "not emulated locally, recorded only"


def test_a_failing_provider_rolls_the_stack_back_with_its_reason(greeting, stacks, body,
                                                                  monkeypatch):
    def refuse(ctx, name, props):
        raise ResourceFailed("GreetingRefused: not today")

    monkeypatch.setattr(greeting, "create", refuse)
    with pytest.raises(StackError, match="GreetingRefused: not today"):
        stacks.deploy("refused", body, {"Text": "hi"})
    assert stacks.describe("refused")["Status"] == "ROLLBACK_COMPLETE"
    states = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in stacks.events("refused")]
    assert ("Hello", "CREATE_FAILED") in states and states[0] == ("refused", "ROLLBACK_COMPLETE")
