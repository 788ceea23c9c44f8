"""Create-time validation: what AWS rejects is rejected, naming the state and the field."""

from __future__ import annotations

import json

import botocore.session
import pytest
from asl_kit import LAMBDA, machine
from botocore.validate import ParamValidator

from sagepipe.stepfunctions.asl import DefinitionError, parse_definition, validate_definition
from sagepipe.stepfunctions.integrations import unsupported_reason

TASK = {"Type": "Task", "Resource": LAMBDA, "End": True}


def problems(definition) -> list[str]:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    diagnostics, compiled = validate_definition(text, unsupported_reason)
    assert compiled is None, "the definition was accepted"
    return [str(d) for d in diagnostics]


def test_the_message_has_create_state_machines_form():
    definition = machine({"pass1": {"Type": "Pass", "Next": "pass3"},
                          "pass2": {"Type": "Pass", "End": True}})
    with pytest.raises(DefinitionError) as error:
        parse_definition(json.dumps(definition))
    assert str(error.value) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: "
        "pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State \"pass2\" is not "
        "reachable. at /States/pass2'")


@pytest.mark.parametrize(("definition", "expected"), [
    ("{not json", "INVALID_JSON_DESCRIPTION: The definition is not valid JSON"),
    ('{"StartAt": "A", "StartAt": "B", "States": {}}', "Duplicate field 'StartAt'"),
    ([], "SCHEMA_VALIDATION_FAILED: The definition must be a JSON object"),
    ({"States": {"A": TASK}}, "These fields are required: [StartAt] at /"),
    ({"StartAt": "A", "States": {}}, "The value for the field 'States' must be a non-empty"),
    ({"StartAt": "B", "States": {"A": TASK}}, "Missing 'StartAt' target: B at /StartAt"),
    (machine({"A": TASK}, Extra=1), 'The field "Extra" is not supported by Step Functions at '
                                    "/Extra"),
    (machine({"A": {"Type": "Bogus"}}), "The value for the field 'Type' must be one of Pass"),
    (machine({"A": {"Type": "Pass", "End": True, "Resource": "x"}}),
     'The field "Resource" is not supported by Step Functions at /States/A/Resource'),
    (machine({"A": {"Type": "Task", "End": True}}), "These fields are required: [Resource] at "
                                                    "/States/A"),
    (machine({"A": {"Type": "Pass"}}), "must have a 'Next' field or 'End': true (it is not a "
                                       "terminal state) at /States/A"),
    (machine({"A": {"Type": "Pass", "End": True, "Next": "A"}}),
     "The fields 'Next' and 'End' are mutually exclusive at /States/A"),
    (machine({"A": {"Type": "Succeed", "Next": "A"}}), '"Next" is not supported'),
    (machine({"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": True,
                                                  "Next": "Nope"}]}}),
     "Missing 'Next' target: Nope at /States/A/Choices/0/Next"),
    (machine({"A": {"Type": "Choice", "Default": "Gone", "Choices": [
        {"Variable": "$.x", "IsNull": True, "Next": "A"}]}}),
     "Missing 'Default' target: Gone at /States/A/Default"),
    (machine({"A": {**TASK, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Gone"}]}}),
     "Missing 'Next' target: Gone at /States/A/Catch/0/Next"),
    (machine({"A": {"Type": "Pass", "InputPath": "$.a[", "End": True}}),
     "The value for the field 'InputPath' must be a valid JSONPath: '$.a[' is not a valid "
     "JSONPath (unclosed '[') at /States/A/InputPath"),
    (machine({"A": {"Type": "Pass", "ResultPath": "$.a[*]", "End": True}}),
     "The value for the field 'ResultPath' must be a valid reference path"),
    (machine({"A": {"Type": "Pass", "Parameters": {"deep": {"x.$": "nope"}}, "End": True}}),
     "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function "
     "call: 'nope' is not a JSONPath: it must start with '$' at /States/A/Parameters/deep/x.$"),
    (machine({"A": {"Type": "Pass", "Parameters": {"x.$": "States.Format('{}')"},
                    "End": True}}),
     "the template has 1 '{}' but 0 argument(s) follow it at /States/A/Parameters/x.$"),
    (machine({"A": {"Type": "Pass", "Parameters": {"x.$": "States.Bogus()"}, "End": True}}),
     "'States.Bogus' is not an intrinsic function at /States/A/Parameters/x.$"),
    (machine({"A": {**TASK, "Retry": [{"ErrorEquals": ["States.ALL"]},
                                      {"ErrorEquals": ["X"]}]}}),
     "'States.ALL' must appear in the last element of Retry at /States/A/Retry/0/ErrorEquals"),
    (machine({"A": {**TASK, "Catch": [{"ErrorEquals": ["States.ALL", "X"], "Next": "A"}]}}),
     "'States.ALL' must appear alone in ErrorEquals at /States/A/Catch/0/ErrorEquals"),
    (machine({"A": {**TASK, "Retry": [{"ErrorEquals": []}]}}),
     "The value for the field 'ErrorEquals' must be a non-empty array of error names at "
     "/States/A/Retry/0/ErrorEquals"),
    (machine({"A": {**TASK, "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5,
                                       "MaxAttempts": -1, "JitterStrategy": "SOME"}]}}),
     "The value for the field 'BackoffRate' must be a number from 1.0 at "
     "/States/A/Retry/0/BackoffRate"),
    (machine({"A": {**TASK, "TimeoutSeconds": 10, "HeartbeatSeconds": 10}}),
     "The value for the field 'HeartbeatSeconds' must be smaller than TimeoutSeconds"),
    (machine({"A": {**TASK, "TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t"}}),
     "The fields 'TimeoutSeconds' and 'TimeoutSecondsPath' are mutually exclusive"),
    (machine({"A": {"Type": "Task", "Resource": "lambda", "End": True}}),
     "INVALID_RESOURCE: The resource provided lambda is not recognized"),
    (machine({"A": {**TASK, "Resource": "arn:aws:states:::glue:startJobRun.sync"}}),
     "INVALID_RESOURCE: The resource provided arn:aws:states:::glue:startJobRun.sync is not "
     "recognized"),
    (machine({"A": {"Type": "Wait", "End": True}}), "exactly one of Seconds, SecondsPath"),
    (machine({"A": {"Type": "Wait", "Seconds": 1, "Timestamp": "2026-01-01T00:00:00Z",
                    "End": True}}), "found ['Seconds', 'Timestamp']"),
    (machine({"A": {"Type": "Wait", "Timestamp": "yesterday", "End": True}}),
     "must be an RFC 3339 timestamp"),
    (machine({"A": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}),
     "The fields 'Error' and 'ErrorPath' are mutually exclusive at /States/A"),
    (machine({"A": {"Type": "Choice", "Choices": []}}),
     "The value for the field 'Choices' must be a non-empty array"),
    (machine({"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "a",
                                                  "NumericEquals": 1, "Next": "A"}]}}),
     "exactly one comparison operator"),
    (machine({"A": {"Type": "Choice", "Default": "A", "Choices": [
        {"And": [{"Variable": "$.x", "IsNull": True, "Next": "A"}], "Next": "A"}]}}),
     "The field 'Next' is only allowed in a top-level choice rule at "
     "/States/A/Choices/0/And/0/Next"),
    (machine({"A": {"Type": "Choice", "Default": "A", "Choices": [
        {"Variable": "$.x", "IsNull": True}]}}),
     "These fields are required: [Next] at /States/A/Choices/0"),
    (machine({"A": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "A"}}}]}}),
     "Missing 'Next' target: A at /States/A/Branches/0/States/B/Next"),
    (machine({"A": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}]}}),
     "DUPLICATE_STATE_NAME: Duplicate State name: A"),
    (machine({"A": {"Type": "Map", "End": True}}),
     "These fields are required: [ItemProcessor or Iterator] at /States/A"),
    (machine({"A": {"Type": "Map", "End": True, "ItemSelector": {}, "Parameters": {},
                    "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}}}),
     "The fields 'ItemSelector' and 'Parameters' are mutually exclusive"),
    (machine({"A": {"Type": "Map", "End": True, "ItemBatcher": {}, "ItemProcessor": {
        "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}}}),
     "An ItemBatcher needs MaxItemsPerBatch"),
    (machine({"A": TASK}, QueryLanguage="JSONata"),
     "QueryLanguage 'JSONata' is not emulated by the local Step Functions"),
    (machine({"A": {**TASK, "QueryLanguage": "JSONata"}}),
     "is not emulated by the local Step Functions: write this state machine with JSONPath "
     "(the default query language) at /States/A/QueryLanguage"),
    (machine({"A": {**TASK, "Assign": {"x": 1}}}), "The field 'Assign' (JSONata or workflow "
                                                   "variables) is not emulated"),
])
def test_rejected(definition, expected):
    found = problems(definition)
    assert any(expected in problem for problem in found), found


def test_every_problem_is_reported_at_once():
    definition = machine({"A": {"Type": "Pass", "InputPath": "x", "Next": "Nowhere"},
                          "B": {"Type": "Bogus"}})
    assert len(problems(definition)) == 4  # InputPath, Type, Next target, B unreachable


def test_an_unknown_states_error_name_is_a_warning_that_does_not_block():
    text = json.dumps(machine({"A": {**TASK, "Retry": [{"ErrorEquals": ["States.Bogus"]}]}}))
    diagnostics, compiled = validate_definition(text)
    assert compiled is not None
    assert [d.as_api() for d in diagnostics] == [{
        "severity": "WARNING", "code": "UNKNOWN_ERROR_NAME",
        "location": "/States/A/Retry/0/ErrorEquals",
        "message": "'States.Bogus' is not an error Step Functions reports: this ErrorEquals "
                   "never matches it"}]


def test_diagnostics_have_validate_state_machine_definitions_shape():
    diagnostics, _ = validate_definition(json.dumps(machine({"A": {"Type": "Pass"}})))
    model = botocore.session.get_session().get_service_model("stepfunctions")
    output = {"result": "FAIL", "diagnostics": [d.as_api() for d in diagnostics]}
    report = ParamValidator().validate(output, model.operation_model(
        "ValidateStateMachineDefinition").output_shape)
    assert not report.has_errors(), report.generate_report()
    assert output["diagnostics"][0] == {
        "severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "location": "/States/A",
        "message": "The state must have a 'Next' field or 'End': true (it is not a terminal "
                   "state)"}


def test_a_valid_machine_using_every_state_type_compiles():
    definition = machine({
        "P": {"Type": "Pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": LAMBDA, "Next": "C",
              "Retry": [{"ErrorEquals": ["States.ALL"]}]},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True,
                                             "Next": "W"}], "Default": "F"},
        "W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "Par"},
        "Par": {"Type": "Parallel", "Next": "M", "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}]},
        "M": {"Type": "Map", "Next": "S", "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I",
            "States": {"I": {"Type": "Pass", "End": True}}}},
        "S": {"Type": "Succeed"},
        "F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('{}', $.c)"},
    }, TimeoutSeconds=60, Comment="all", Version="1.0")
    diagnostics, compiled = validate_definition(json.dumps(definition), unsupported_reason)
    assert diagnostics == [] and compiled is not None
    assert compiled.timeout_seconds == 60
