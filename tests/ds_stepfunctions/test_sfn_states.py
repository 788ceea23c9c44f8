"""Every state type, Retry/Catch, Chain and Graph, and every Choice operator."""

from __future__ import annotations

import json

import pytest

from ds_stepfunctions.exceptions import DuplicateStatesInChain
from ds_stepfunctions.inputs import ExecutionInput
from ds_stepfunctions.steps import (
    BatchSubmitJobStep,
    Catch,
    Chain,
    Choice,
    ChoiceRule,
    EcsRunTaskStep,
    Fail,
    FrozenGraph,
    GlueStartJobRunStep,
    Graph,
    LambdaStep,
    Map,
    Parallel,
    Pass,
    Retry,
    Succeed,
    Task,
    Wait,
)
from ds_stepfunctions.steps.choice_rule import OPERATORS

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it


def test_control_flow_chain_serialises_like_the_old_sdk():
    """Byte for byte what stepfunctions 2.3.0 writes for the same code (its to_json)."""
    first = Pass("Start", result={"x": 1}, result_path="$.seed")
    wait = Wait("Pause", seconds=2)
    gate = Choice("Big?")
    done = Succeed("Done")
    gate.add_choice(ChoiceRule.NumericGreaterThan(variable="$.seed.x", value=0), next_step=done)
    gate.default_choice(Fail("Small", error="TooSmall", cause="x <= 0"))
    graph = Graph(Chain([first, wait, gate]))
    assert graph.to_json() == (
        '{"StartAt": "Start", "States": {"Start": {"Result": {"x": 1}, "ResultPath": "$.seed", '
        '"Type": "Pass", "Next": "Pause"}, "Pause": {"Seconds": 2, "Type": "Wait", '
        '"Next": "Big?"}, "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.seed.x", '
        '"NumericGreaterThan": 0, "Next": "Done"}], "Default": "Small"}, "Small": {"Error": '
        '"TooSmall", "Cause": "x <= 0", "Type": "Fail"}, "Done": {"Type": "Succeed"}}}')
    assert json.loads(graph.to_json(pretty=True)) == json.loads(graph.to_json())


def test_every_state_type_and_its_options():
    ei = ExecutionInput(schema={"Items": list, "Delay": int, "When": str})
    inner = Pass("Double", parameters={"value.$": "$.n"})
    mapped = Map("Each", iterator=inner, items_path=ei["Items"], max_concurrency=2,
                 parameters={"n.$": "$$.Map.Item.Value"}, result_path="$.doubled")
    parallel = Parallel("Both", result_selector={"first.$": "$[0]"}, output_path="$.first")
    parallel.add_branch(Pass("A"))
    parallel.add_branch(Chain([Pass("B1"), Pass("B2")]))
    task = Task("Work", resource="arn:aws:states:::lambda:invoke", timeout_seconds=ei["Delay"],
                heartbeat_seconds=10, input_path="$.in", result_path=None)
    waits = [Wait("W1", seconds_path="$.s"), Wait("W2", timestamp="2026-01-01T00:00:00Z"),
             Wait("W3", timestamp_path="$.t"), Wait("W4", seconds=ei["Delay"]),
             Wait("W5", timestamp=ei["When"])]
    graph = Graph(Chain([mapped, parallel, task, *waits, Succeed("End", comment="ok")]),
                  timeout_seconds=3600, comment="all of them")
    out = graph.to_dict()
    assert out["TimeoutSeconds"] == 3600 and out["Comment"] == "all of them"
    states = out["States"]
    assert states["Each"]["ItemsPath"] == "$$.Execution.Input['Items']"
    assert states["Each"]["MaxConcurrency"] == 2
    assert states["Each"]["Iterator"] == {
        "StartAt": "Double", "States": {"Double": {"Parameters": {"value.$": "$.n"},
                                                   "Type": "Pass", "End": True}}}
    assert [b["StartAt"] for b in states["Both"]["Branches"]] == ["A", "B1"]
    assert states["Both"]["Branches"][1]["States"]["B1"]["Next"] == "B2"
    assert states["Both"]["ResultSelector"] == {"first.$": "$[0]"}
    assert states["Work"]["TimeoutSecondsPath"] == "$$.Execution.Input['Delay']"
    assert "TimeoutSeconds" not in states["Work"]
    assert states["Work"]["ResultPath"] is None  # explicit None: discard the result
    assert states["W1"]["SecondsPath"] == "$.s"
    assert states["W4"]["SecondsPath"] == "$$.Execution.Input['Delay']"
    assert states["W5"]["TimestampPath"] == "$$.Execution.Input['When']"
    assert states["End"] == {"Comment": "ok", "Type": "Succeed"}


def test_retry_and_catch():
    fallback = Fail("Failed", error=ExecutionInput()["Error"])
    task = LambdaStep("Call", parameters={"FunctionName": "f"})
    task.add_retry(Retry(error_equals=["States.TaskFailed"], interval_seconds=15, max_attempts=2,
                         backoff_rate=4.0, max_delay_seconds=60, jitter_strategy="FULL"))
    task.add_catch(Catch(error_equals=["States.ALL"], next_step=fallback, result_path="$.error"))
    states = Graph(task).to_dict()["States"]
    assert states["Call"]["Retry"] == [{"ErrorEquals": ["States.TaskFailed"],
                                        "IntervalSeconds": 15, "MaxAttempts": 2,
                                        "BackoffRate": 4.0, "MaxDelaySeconds": 60,
                                        "JitterStrategy": "FULL"}]
    assert states["Call"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                        "Next": "Failed"}]
    assert states["Failed"] == {"ErrorPath": "$$.Execution.Input['Error']", "Type": "Fail"}
    with pytest.raises(ValueError, match="error_equals"):
        Retry(interval_seconds=1)
    with pytest.raises(ValueError, match="does not support retry"):
        Pass("p").add_retry(Retry(error_equals=["States.ALL"]))
    with pytest.raises(ValueError, match="does not support catch"):
        Wait("w", seconds=1).add_catch(Catch(error_equals=["States.ALL"], next_step=fallback))


@pytest.mark.parametrize("step, resource", [
    (LambdaStep("l"), "arn:aws:states:::lambda:invoke"),
    (LambdaStep("l", wait_for_callback=True), "arn:aws:states:::lambda:invoke.waitForTaskToken"),
    (GlueStartJobRunStep("g"), "arn:aws:states:::glue:startJobRun.sync"),
    (GlueStartJobRunStep("g", wait_for_completion=False), "arn:aws:states:::glue:startJobRun"),
    (BatchSubmitJobStep("b"), "arn:aws:states:::batch:submitJob.sync"),
    (EcsRunTaskStep("e"), "arn:aws:states:::ecs:runTask.sync"),
])
def test_compute_steps_resources(step, resource):
    assert step.to_dict()["Resource"] == resource


def test_every_choice_operator():
    assert len(OPERATORS) == 39  # 5 comparisons x (String, Numeric, Timestamp) x 2 + 9
    samples = {"String": "a", "Numeric": 1.5, "Timestamp": "2026-01-01T00:00:00Z",
               "Boolean": True, "Is": True}
    for operator in OPERATORS:
        kind = next(k for k in samples if operator.startswith(k))
        value = "$.other" if operator.endswith("Path") else samples[kind]
        rule = getattr(ChoiceRule, operator)(variable="$.x", value=value)
        assert rule.to_dict() == {"Variable": "$.x", operator: value}


def test_compound_rules_and_placeholders_in_rules():
    step_out = Pass("Prev").output()
    ei = ExecutionInput()
    rule = ChoiceRule.And([
        ChoiceRule.Not(ChoiceRule.IsNull(variable=step_out["a"], value=True)),
        ChoiceRule.Or([ChoiceRule.StringEquals(variable="$.b", value=ei["Expected"]),
                       ChoiceRule.StringMatches(variable="$.b", value="log-*")]),
    ])
    assert rule.to_dict() == {"And": [
        {"Not": {"Variable": "$['a']", "IsNull": True}},
        {"Or": [{"Variable": "$.b", "StringEqualsPath": "$$.Execution.Input['Expected']"},
                {"Variable": "$.b", "StringMatches": "log-*"}]}]}


@pytest.mark.parametrize("make, message", [
    (lambda: ChoiceRule.NumericEquals(variable="$.x", value="1"), "Numeric"),
    (lambda: ChoiceRule.NumericEquals(variable="$.x", value=True), "Numeric"),
    (lambda: ChoiceRule.BooleanEquals(variable="$.x", value=1), "Boolean"),
    (lambda: ChoiceRule.StringEquals(variable="x", value="a"), "start with '\\$'"),
    (lambda: ChoiceRule.StringEqualsPath(variable="$.x", value="a"), "start with '\\$'"),
    (lambda: ChoiceRule.StringMatches(variable="$.x", value=ExecutionInput()["p"]), "Path form"),
    (lambda: ChoiceRule.And([]), "at least one"),
    (lambda: ChoiceRule.Not("x"), "invalid"),
])
def test_bad_rules_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_choice_in_a_chain_takes_the_next_step_as_default():
    gate = Choice("Gate")
    gate.add_choice(ChoiceRule.BooleanEquals(variable="$.ok", value=True), next_step=Succeed("Y"))
    after = Pass("After")
    chain = Chain([Pass("Before"), gate, after])
    states = Graph(chain).to_dict()["States"]
    assert states["Gate"]["Default"] == "After"
    assert "Next" not in states["Gate"] and "End" not in states["Gate"]
    assert chain.state_id == "Before"


def test_next_returns_the_step_so_calls_chain():
    a, b, c = Pass("a"), Pass("b"), Succeed("c")
    assert a.next(b).next(c) is c
    assert Graph(a).to_dict()["States"]["b"]["Next"] == "c"
    with pytest.raises(ValueError, match="no next step"):
        c.next(a)


def test_chain_and_graph_refuse_duplicates_and_incomplete_states():
    a = Pass("a")
    with pytest.raises(DuplicateStatesInChain):
        Chain([a, a])
    with pytest.raises(ValueError, match="unique state id"):
        Graph(Chain([Pass("same"), Pass("same", comment="other")]))
    with pytest.raises(ValueError, match="no rule"):
        Graph(Choice("c"))
    with pytest.raises(ValueError, match="no branch"):
        Graph(Parallel("p"))
    with pytest.raises(ValueError, match="no iterator"):
        Map("m").to_dict()
    with pytest.raises(ValueError, match="State or a Chain"):
        Graph("a")
    with pytest.raises(TypeError, match="not a list"):
        Chain(Pass("x"))


def test_field_mistakes_fail_where_the_state_is_built():
    with pytest.raises(TypeError, match="does not take seconds"):
        Pass("p", seconds=3)
    with pytest.raises(ValueError, match="exactly one"):
        Wait("w", seconds=1, timestamp="2026-01-01T00:00:00Z")
    with pytest.raises(ValueError, match="Only one of 'timeout_seconds'"):
        Task("t", timeout_seconds=1, timeout_seconds_path="$.t")
    with pytest.raises(ValueError, match="1 to 80 characters"):
        Pass("x" * 81)
    with pytest.raises(TypeError, match="literal value"):
        Pass("p", result=ExecutionInput()["k"])


def test_old_sdk_attribute_access_and_frozen_graph():
    task = Task("t", resource="arn:aws:lambda:us-east-1:123456789012:function:f")
    assert task.resource.endswith(":f") and task.parameters is None
    assert task.type == "Task"
    with pytest.raises(AttributeError):
        _ = task.not_a_field
    frozen = FrozenGraph.from_json('{"StartAt": "x", "States": {"x": {"Type": "Succeed"}}}')
    assert frozen.to_dict()["StartAt"] == "x"


def test_the_package_needs_neither_sagepipe_nor_sagemaker():
    import subprocess
    import sys

    code = ("import sys, ds_stepfunctions, ds_stepfunctions.steps.sagemaker; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sagepipe', 'sagemaker', 'PIL')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
