"""Choice rules: every operator family, the *Path forms, type tests, And/Or/Not, and the
metric branch the ML workflows take."""

from __future__ import annotations

import pytest
from asl_kit import machine, run, types

from sagepipe.stepfunctions.asl.choice import compile_rule

INPUT = {"s": "beta", "n": 3, "f": 2.5, "b": True, "t": "2026-03-01T12:00:00Z",
         "other": {"s": "alpha", "n": 3, "b": True, "t": "2026-03-01T13:00:00+01:00"},
         "nothing": None, "file": "model-v2.tar.gz", "star": "a*b"}


def test_rule(rule: dict) -> bool:
    problems: list = []
    test = compile_rule({**rule, "Next": "X"}, "/States/C/Choices/0",
                        lambda location, message: problems.append(message), top=True)
    assert test is not None, problems
    return test(INPUT, {"Execution": {"Input": INPUT}})


test_rule.__test__ = False  # a helper, not a test


@pytest.mark.parametrize(("rule", "expected"), [
    ({"Variable": "$.s", "StringEquals": "beta"}, True),
    ({"Variable": "$.s", "StringLessThan": "gamma"}, True),
    ({"Variable": "$.s", "StringGreaterThan": "gamma"}, False),
    ({"Variable": "$.s", "StringLessThanEquals": "beta"}, True),
    ({"Variable": "$.s", "StringGreaterThanEquals": "beta"}, True),
    ({"Variable": "$.s", "StringEqualsPath": "$.other.s"}, False),
    ({"Variable": "$.s", "StringGreaterThanPath": "$.other.s"}, True),
    ({"Variable": "$.file", "StringMatches": "model-*.tar.gz"}, True),
    ({"Variable": "$.file", "StringMatches": "model-*.zip"}, False),
    ({"Variable": "$.star", "StringMatches": "a\\*b"}, True),
    ({"Variable": "$.file", "StringMatches": "a\\*b"}, False),
    ({"Variable": "$.n", "NumericEquals": 3}, True),
    ({"Variable": "$.f", "NumericLessThan": 3}, True),
    ({"Variable": "$.f", "NumericGreaterThan": 2}, True),
    ({"Variable": "$.n", "NumericLessThanEquals": 3}, True),
    ({"Variable": "$.n", "NumericGreaterThanEquals": 3.5}, False),
    ({"Variable": "$.n", "NumericEqualsPath": "$.other.n"}, True),
    ({"Variable": "$.f", "NumericLessThanPath": "$.other.n"}, True),
    ({"Variable": "$.b", "BooleanEquals": True}, True),
    ({"Variable": "$.b", "BooleanEqualsPath": "$.other.b"}, True),
    ({"Variable": "$.t", "TimestampEquals": "2026-03-01T12:00:00Z"}, True),
    ({"Variable": "$.t", "TimestampEqualsPath": "$.other.t"}, True),  # same instant
    ({"Variable": "$.t", "TimestampLessThan": "2026-03-01T12:00:01Z"}, True),
    ({"Variable": "$.t", "TimestampGreaterThan": "2026-03-01T12:00:01Z"}, False),
    ({"Variable": "$.t", "TimestampLessThanEquals": "2026-03-01T12:00:00Z"}, True),
    ({"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.other.t"}, True),
    # A value of another type makes the comparison false, not an error.
    ({"Variable": "$.s", "NumericEquals": 3}, False),
    ({"Variable": "$.n", "StringEquals": "3"}, False),
    ({"Variable": "$.s", "TimestampEquals": "2026-03-01T12:00:00Z"}, False),
    ({"Variable": "$.b", "NumericEquals": 1}, False),
    ({"Variable": "$.s", "IsPresent": True}, True),
    ({"Variable": "$.absent", "IsPresent": True}, False),
    ({"Variable": "$.absent", "IsPresent": False}, True),
    ({"Variable": "$.nothing", "IsNull": True}, True),
    ({"Variable": "$.n", "IsNull": False}, True),
    ({"Variable": "$.f", "IsNumeric": True}, True),
    ({"Variable": "$.b", "IsNumeric": True}, False),
    ({"Variable": "$.s", "IsString": True}, True),
    ({"Variable": "$.b", "IsBoolean": True}, True),
    ({"Variable": "$.t", "IsTimestamp": True}, True),
    ({"Variable": "$.s", "IsTimestamp": True}, False),
    ({"Variable": "$$.Execution.Input.n", "NumericEquals": 3}, True),
    ({"And": [{"Variable": "$.n", "NumericEquals": 3},
              {"Variable": "$.s", "StringEquals": "beta"}]}, True),
    ({"And": [{"Variable": "$.n", "NumericEquals": 3},
              {"Variable": "$.s", "StringEquals": "alpha"}]}, False),
    ({"Or": [{"Variable": "$.n", "NumericEquals": 4},
             {"Not": {"Variable": "$.s", "StringEquals": "alpha"}}]}, True),
    ({"Not": {"Variable": "$.b", "BooleanEquals": True}}, False),
])
def test_operator(rule, expected):
    assert test_rule(rule) is expected


def metric_gate(threshold: float) -> dict:
    """The ML workflows' gate: a numeric Choice on a training job's metric, by bracket path."""
    return machine({
        "Gate": {"Type": "Choice", "Choices": [{
            "Variable": "$['trainingMetrics'][0]['Value']", "NumericLessThan": threshold,
            "Next": "TooLow"}], "Default": "Deploy"},
        "TooLow": {"Type": "Fail", "Error": "ModelTooWeak", "Cause": "accuracy under threshold"},
        "Deploy": {"Type": "Succeed"},
    })


@pytest.mark.parametrize(("threshold", "status"), [(0.9, "FAILED"), (0.8, "SUCCEEDED")])
def test_a_metric_under_a_bracket_path_drives_the_branch(threshold, status):
    outcome, events = run(metric_gate(threshold), {"trainingMetrics": [
        {"MetricName": "validation:accuracy", "Value": 0.82}]})
    assert outcome.status == status
    if status == "FAILED":
        assert (outcome.error, types(events)[-2:]) == ("ModelTooWeak",
                                                       ["FailStateEntered", "ExecutionFailed"])


def test_no_match_and_no_default_fails_with_no_choice_matched():
    definition = machine({"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericEquals": 1, "Next": "End"}]}, "End": {"Type": "Succeed"}})
    outcome, _ = run(definition, {"n": 2})
    assert outcome.status == "FAILED" and outcome.error == "States.NoChoiceMatched"


def test_a_missing_variable_is_a_runtime_error_naming_the_path():
    outcome, _ = run(metric_gate(0.5), {"metrics": []})
    assert outcome.error == "States.Runtime"
    assert "Invalid path '$['trainingMetrics'][0]['Value']'" in outcome.cause
    assert "'Gate'" in outcome.cause


def test_choice_applies_input_and_output_paths():
    definition = machine({
        "C": {"Type": "Choice", "InputPath": "$.inner", "OutputPath": "$.keep",
              "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "Done"}]},
        "Done": {"Type": "Succeed"}})
    outcome, _ = run(definition, {"inner": {"go": True, "keep": {"k": 1}}})
    assert outcome.output == {"k": 1}
