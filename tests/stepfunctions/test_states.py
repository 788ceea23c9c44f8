"""Pass, Wait, Succeed, Fail and the data flow every state shares (InputPath, Parameters,
ResultSelector, ResultPath, OutputPath), with the context object."""

from __future__ import annotations

import pytest
from asl_kit import LAMBDA, START, Script, VirtualClock, details, machine, run, types

from sagepipe.stepfunctions.asl import MAX_PAYLOAD_BYTES


def one(state: dict, execution_input=None, **kwargs):
    outcome, events = run(machine({"S": {**state, "End": True}
                                   if state["Type"] not in ("Succeed", "Fail") else state}),
                          execution_input, **kwargs)
    return outcome, events


def test_pass_result_and_result_path_nested_creation():
    outcome, _ = one({"Type": "Pass", "Result": {"r": 1}, "ResultPath": "$.deep.er"},
                     {"keep": True})
    assert outcome.output == {"keep": True, "deep": {"er": {"r": 1}}}


def test_result_path_null_keeps_the_input_and_dollar_replaces_it():
    assert one({"Type": "Pass", "Result": 1, "ResultPath": None}, {"a": 1})[0].output == \
        {"a": 1}
    assert one({"Type": "Pass", "Result": 1, "ResultPath": "$"}, {"a": 1})[0].output == 1


def test_input_path_parameters_and_output_path():
    outcome, _ = one({
        "Type": "Pass", "InputPath": "$.job",
        "Parameters": {"static": [1, {"n.$": "$.name"}], "nested": {"id.$": "$.id"},
                       "joined.$": "States.Format('{}-{}', $.name, $.id)"},
        "ResultPath": "$.job.request", "OutputPath": "$.job"},
        {"job": {"name": "train", "id": 7}, "other": "dropped"})
    assert outcome.output == {"name": "train", "id": 7, "request": {
        "static": [1, {"n": "train"}], "nested": {"id": 7}, "joined": "train-7"}}


def test_null_input_and_output_paths_select_an_empty_object():
    assert one({"Type": "Pass", "InputPath": None}, {"a": 1})[0].output == {}
    assert one({"Type": "Pass", "OutputPath": None}, {"a": 1})[0].output == {}


def test_context_object():
    outcome, _ = one({"Type": "Pass", "Parameters": {
        "input.$": "$$.Execution.Input['k']", "id.$": "$$.Execution.Id",
        "name.$": "$$.Execution.Name", "role.$": "$$.Execution.RoleArn",
        "start.$": "$$.Execution.StartTime", "state.$": "$$.State.Name",
        "entered.$": "$$.State.EnteredTime", "retries.$": "$$.State.RetryCount",
        "machine.$": "$$.StateMachine.Name"}}, {"k": "v"})
    assert outcome.output == {
        "input": "v", "id": "arn:aws:states:us-east-1:000000000000:execution:machine:run-1",
        "name": "run-1", "role": "arn:aws:iam::000000000000:role/sfn",
        "start": "2026-03-01T12:00:00.000Z", "state": "S",
        "entered": "2026-03-01T12:00:00.000Z", "retries": 0, "machine": "machine"}


def test_task_result_selector_then_result_path_then_output_path():
    runner = Script({"Payload": {"accuracy": 0.9}, "StatusCode": 200})
    outcome, _ = one({"Type": "Task", "Resource": LAMBDA, "InputPath": "$.in",
                      "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                      "ResultSelector": {"acc.$": "$.Payload.accuracy"},
                      "ResultPath": "$.in.result", "OutputPath": "$.in"},
                     {"in": {"x": 1}}, runner=runner)
    assert runner.requests[0].parameters == {"FunctionName": "f", "Payload": {"x": 1}}
    assert outcome.output == {"x": 1, "result": {"acc": 0.9}}


def test_a_missing_parameter_path_fails_with_states_runtime_and_aws_cause():
    outcome, _ = one({"Type": "Pass", "Parameters": {"x.$": "$.nope"}}, {"a": 1})
    assert outcome.error == "States.Runtime"
    assert outcome.cause == ("An error occurred while executing the state 'S' (entered at the "
                             "event id #2). The JSONPath '$.nope' specified for the field "
                             "'x.$' could not be found in the input '{\"a\":1}'")


def test_a_missing_input_path_fails_with_states_runtime():
    outcome, _ = one({"Type": "Pass", "InputPath": "$.nope"}, {"a": 1})
    assert outcome.error == "States.Runtime" and "Invalid path '$.nope'" in outcome.cause


@pytest.mark.parametrize(("wait", "execution_input", "seconds"), [
    ({"Seconds": 15}, {}, 15),
    ({"SecondsPath": "$.delay"}, {"delay": 42}, 42),
    ({"Timestamp": "2026-03-01T12:01:30Z"}, {}, 90),
    ({"TimestampPath": "$.at"}, {"at": "2026-03-01T13:00:00+01:00"}, 0),  # already past
    ({"TimestampPath": "$.at"}, {"at": "2026-03-01T12:00:05.500Z"}, 5.5),
])
def test_wait_sleeps_what_the_definition_says(wait, execution_input, seconds):
    clock = VirtualClock()
    outcome, events = one({"Type": "Wait", **wait}, execution_input, clock=clock)
    assert outcome.status == "SUCCEEDED" and outcome.output == execution_input
    assert clock.sleeps == [seconds]
    assert types(events)[1:3] == ["WaitStateEntered", "WaitStateExited"]


@pytest.mark.parametrize("value", [-1, "ten", 1.5])
def test_seconds_path_must_select_a_non_negative_integer(value):
    outcome, _ = one({"Type": "Wait", "SecondsPath": "$.d"}, {"d": value})
    assert outcome.error == "States.Runtime" and "SecondsPath" in outcome.cause


def test_succeed_ends_with_its_filtered_input():
    outcome, events = one({"Type": "Succeed", "OutputPath": "$.a"}, {"a": {"b": 1}})
    assert outcome.output == {"b": 1}
    assert types(events) == ["ExecutionStarted", "SucceedStateEntered", "SucceedStateExited",
                             "ExecutionSucceeded"]


def test_fail_with_error_and_cause():
    outcome, events = one({"Type": "Fail", "Error": "Bad", "Cause": "because"})
    assert (outcome.status, outcome.error, outcome.cause) == ("FAILED", "Bad", "because")
    assert types(events)[-2:] == ["FailStateEntered", "ExecutionFailed"]
    assert details(events[-1]) == {"error": "Bad", "cause": "because"}


def test_fail_error_path_and_cause_path_read_the_input():
    outcome, _ = one({"Type": "Fail", "ErrorPath": "$.e",
                      "CausePath": "States.Format('job {} failed', $.job)"},
                     {"e": "JobFailed", "job": "train-1"})
    assert (outcome.error, outcome.cause) == ("JobFailed", "job train-1 failed")


def test_an_output_over_256_kb_fails_with_data_limit_exceeded():
    outcome, _ = one({"Type": "Pass", "Parameters": {"big.$": "$.text"}},
                     {"text": "x" * MAX_PAYLOAD_BYTES})
    assert outcome.error == "States.DataLimitExceeded"


def test_a_data_limit_error_is_not_caught_by_states_all():
    big = "x" * MAX_PAYLOAD_BYTES
    definition = machine({
        "T": {"Type": "Task", "Resource": LAMBDA, "End": True,
              "Retry": [{"ErrorEquals": ["States.ALL"]}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Succeed"}})
    runner = Script({"big": big})
    outcome, _ = run(definition, {}, runner=runner)
    assert outcome.error == "States.DataLimitExceeded" and len(runner.requests) == 1


def test_start_time_in_history_comes_from_the_clock():
    _, events = one({"Type": "Pass"})
    assert events[0]["timestamp"] == START
