"""The Step Functions API of the local AWS through real boto3 clients: state machines,
executions, history, stops, tags, task tokens, EXPRESS, and AWS's error codes for bad input
(none of which harms the local AWS)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from service_kit import (
    ROLE,
    S3_SDK,
    WAITING,
    create,
    details,
    history,
    machine,
    passes,
    types,
    wait_for_event,
    wait_until_done,
)
from testkit import unique

ARN = "arn:aws:states:us-east-1:000000000000:"


def error_of(call, **params) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return (response["Error"]["Code"], response["Error"]["Message"],
            response["ResponseMetadata"]["HTTPStatusCode"])


def test_create_describe_update_list_and_delete(sfn):
    name = unique("lifecycle")
    arn = sfn.create_state_machine(name=name, definition=passes(2), roleArn=ROLE,
                                   tags=[{"key": "team", "value": "ml"}])["stateMachineArn"]
    assert arn == f"{ARN}stateMachine:{name}"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["name"], described["status"], described["type"], described["roleArn"]) \
        == (name, "ACTIVE", "STANDARD", ROLE)
    assert json.loads(described["definition"]) == json.loads(passes(2))
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}

    again = sfn.create_state_machine(name=name, definition=passes(2), roleArn=ROLE)
    assert again["stateMachineArn"] == arn  # the same request: idempotent, as in AWS
    assert again["creationDate"] == described["creationDate"]
    code, message, status = error_of(sfn.create_state_machine, name=name,
                                     definition=passes(3), roleArn=ROLE)
    assert (code, status) == ("StateMachineAlreadyExists", 400) and arn in message

    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_until_done(sfn, first)
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=passes(3))
    assert updated["revisionId"] != described["revisionId"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == updated["revisionId"]
    ran = sfn.describe_state_machine_for_execution(executionArn=first)
    assert json.loads(ran["definition"]) == json.loads(passes(2))  # what that execution ran
    assert ran["revisionId"] == described["revisionId"]

    listed = [m for page in sfn.get_paginator("list_state_machines").paginate(
        PaginationConfig={"PageSize": 1}) for m in page["stateMachines"]]
    assert {"stateMachineArn": arn, "name": name, "type": "STANDARD",
            "creationDate": described["creationDate"]} in listed
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team",
                                                                    "value": "ml"}]
    sfn.delete_state_machine(stateMachineArn=arn)
    assert error_of(sfn.describe_state_machine, stateMachineArn=arn)[0] == \
        "StateMachineDoesNotExist"
    sfn.delete_state_machine(stateMachineArn=arn)  # deleting again is no error, as in AWS
    assert sfn.describe_execution(executionArn=first)["status"] == "SUCCEEDED"  # kept


def test_an_execution_runs_in_the_background_with_aws_history(sfn):
    arn = create(sfn, machine({
        "Start": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"},
                  "Next": "Hold"},
        "Hold": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Succeed"}}))
    started = sfn.start_execution(stateMachineArn=arn, name="run-1", input='{"n": 21}')
    assert started["executionArn"] == f"{ARN}execution:{arn.split(':')[-1]}:run-1"
    assert sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING"
    described = wait_until_done(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"doubled": 42}
    assert described["startDate"] == started["startDate"] < described["stopDate"]
    events = history(sfn, started["executionArn"])
    assert types(events) == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                             "WaitStateEntered", "WaitStateExited", "SucceedStateEntered",
                             "SucceedStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in events] == list(range(1, 9))
    assert [e["previousEventId"] for e in events] == list(range(0, 8))
    assert details(events[0]) == {"input": '{"n":21}', "inputDetails": {"truncated": False},
                                  "roleArn": ROLE}
    assert (events[4]["timestamp"] - events[3]["timestamp"]).total_seconds() >= 1


def test_history_pages_reverse_order_and_metadata_only(sfn):
    arn = create(sfn, passes(30))
    execution = sfn.start_execution(stateMachineArn=arn, input='{"secret": 1}')["executionArn"]
    wait_until_done(sfn, execution)
    first = sfn.get_execution_history(executionArn=execution, maxResults=25)
    assert len(first["events"]) == 25 and "nextToken" in first
    rest = history(sfn, execution)
    assert [e["id"] for e in rest] == list(range(1, 63))
    backwards = history(sfn, execution, reverseOrder=True)
    assert [e["id"] for e in backwards] == list(range(62, 0, -1))
    bare = history(sfn, execution, includeExecutionData=False)
    assert "input" not in details(bare[0]) and details(bare[0])["roleArn"] == ROLE
    assert error_of(sfn.get_execution_history, executionArn=execution,
                    nextToken="not-a-token")[0] == "InvalidToken"


def test_list_executions_filters_by_status_and_pages(sfn):
    arn = create(sfn, WAITING)
    long = sfn.start_execution(stateMachineArn=arn, input='{"seconds": 60}')["executionArn"]
    short = [sfn.start_execution(stateMachineArn=arn, input='{"seconds": 0}')["executionArn"]
             for _ in range(3)]
    for execution in short:
        wait_until_done(sfn, execution)
    running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
    assert [e["executionArn"] for e in running] == [long]
    pages = list(sfn.get_paginator("list_executions").paginate(
        stateMachineArn=arn, statusFilter="SUCCEEDED", PaginationConfig={"PageSize": 2}))
    assert [len(p["executions"]) for p in pages] == [2, 1]
    assert [e["executionArn"] for p in pages for e in p["executions"]] == short[::-1]
    sfn.stop_execution(executionArn=long)


def test_start_is_idempotent_for_a_running_execution_only(sfn):
    arn = create(sfn, WAITING)
    first = sfn.start_execution(stateMachineArn=arn, name="once", input='{"seconds": 60}')
    again = sfn.start_execution(stateMachineArn=arn, name="once", input='{"seconds": 60}')
    assert again["executionArn"] == first["executionArn"]
    assert again["startDate"] == first["startDate"]
    code, message, _ = error_of(sfn.start_execution, stateMachineArn=arn, name="once",
                                input='{"seconds": 1}')
    assert code == "ExecutionAlreadyExists" and first["executionArn"] in message
    sfn.stop_execution(executionArn=first["executionArn"])
    assert error_of(sfn.start_execution, stateMachineArn=arn, name="once",
                    input='{"seconds": 60}')[0] == "ExecutionAlreadyExists"  # closed


def test_stop_aborts_with_the_error_and_cause_given(sfn):
    arn = create(sfn, WAITING)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"seconds": 600}')[
        "executionArn"]
    wait_for_event(sfn, execution, "WaitStateEntered")
    stopped = sfn.stop_execution(executionArn=execution, error="Operator.Stop",
                                 cause="not needed any more")
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED", "Operator.Stop", "not needed any more")
    assert described["stopDate"] == stopped["stopDate"]
    events = history(sfn, execution)
    assert types(events)[-2:] == ["WaitStateAborted", "ExecutionAborted"]
    assert details(events[-1]) == {"error": "Operator.Stop", "cause": "not needed any more"}
    assert sfn.stop_execution(executionArn=execution)["stopDate"] == stopped["stopDate"]


def test_deleting_a_state_machine_stops_its_running_executions(sfn):
    arn = create(sfn, WAITING)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"seconds": 600}')[
        "executionArn"]
    wait_for_event(sfn, execution, "WaitStateEntered")
    sfn.delete_state_machine(stateMachineArn=arn)
    described = wait_until_done(sfn, execution, timeout=30)
    assert described["status"] == "ABORTED" and "has been deleted" in described["cause"]
    assert error_of(sfn.describe_state_machine, stateMachineArn=arn)[0] == \
        "StateMachineDoesNotExist"


def test_task_tokens_wait_for_send_task_success_and_failure(sfn, aws):
    bucket = unique("tokens")
    aws("s3").create_bucket(Bucket=bucket)
    arn = create(sfn, machine({"Ask": {
        "Type": "Task", "Resource": S3_SDK + "putObject.waitForTaskToken", "End": True,
        "Parameters": {"Bucket": bucket, "Key.$": "$.key", "Body.$": "$$.Task.Token"}}}))

    def token_of(execution: str, key: str) -> str:
        wait_for_event(sfn, execution, "TaskSubmitted")
        return aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()

    answered = sfn.start_execution(stateMachineArn=arn, input='{"key": "a"}')["executionArn"]
    token = token_of(answered, "a")
    sfn.send_task_heartbeat(taskToken=token)
    assert error_of(sfn.send_task_success, taskToken=token, output="{not json")[0] == \
        "InvalidOutput"
    sfn.send_task_success(taskToken=token, output='{"approved": true}')
    described = wait_until_done(sfn, answered, timeout=30)
    assert json.loads(described["output"]) == {"approved": True}
    assert error_of(sfn.send_task_success, taskToken=token, output="{}")[0] == \
        "TaskDoesNotExist"

    refused = sfn.start_execution(stateMachineArn=arn, input='{"key": "b"}')["executionArn"]
    sfn.send_task_failure(taskToken=token_of(refused, "b"), error="Review.Rejected",
                          cause="too risky")
    described = wait_until_done(sfn, refused, timeout=30)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED", "Review.Rejected", "too risky")
    assert error_of(sfn.send_task_heartbeat, taskToken="made-up")[0] == "InvalidToken"


def test_express_state_machines_run_synchronously(sfn):
    arn = create(sfn, machine({"Add": {"Type": "Pass", "End": True, "Parameters": {
        "sum.$": "States.MathAdd($.a, $.b)"}}}), type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=arn, name="sync-1",
                                      input='{"a": 1, "b": 2}')
    assert (result["status"], json.loads(result["output"])) == ("SUCCEEDED", {"sum": 3})
    assert result["executionArn"].startswith(f"{ARN}express:{arn.split(':')[-1]}:sync-1:")
    assert result["billingDetails"]["billedDurationInMilliseconds"] >= 100
    failed = sfn.start_sync_execution(stateMachineArn=arn, input='{"a": "x", "b": 2}')
    assert (failed["status"], failed["error"]) == ("FAILED", "States.Runtime")
    assert error_of(sfn.list_executions, stateMachineArn=arn)[0] == \
        "StateMachineTypeNotSupported"
    standard = create(sfn, passes(1))
    assert error_of(sfn.start_sync_execution, stateMachineArn=standard)[0] == \
        "StateMachineTypeNotSupported"
    assert error_of(sfn.describe_execution, executionArn=result["executionArn"])[0] == \
        "InvalidArn"
    code, message, _ = error_of(sfn.create_state_machine, name=unique("x"), roleArn=ROLE,
                                type="EXPRESS", definition=WAITING.replace(
                                    '"Type": "Wait", "SecondsPath": "$.seconds"',
                                    '"Type": "Task", "Resource": "arn:aws:states:::sagemaker:'
                                    'createTrainingJob.sync"'))
    assert code == "InvalidDefinition" and "does not support '.sync'" in message


def test_tags(sfn):
    arn = create(sfn, passes(1), tags=[{"key": "a", "value": "1"}])
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "b", "value": "2"},
                                            {"key": "a", "value": "3"}])
    sfn.untag_resource(resourceArn=arn, tagKeys=["b"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "a", "value": "3"}]
    missing = arn + "-gone"
    assert error_of(sfn.list_tags_for_resource, resourceArn=missing)[0] == "ResourceNotFound"
    assert error_of(sfn.tag_resource, resourceArn=arn, tags=[
        {"key": f"k{i}", "value": ""} for i in range(51)])[0] == "TooManyTags"


def test_validate_state_machine_definition(sfn):
    assert sfn.validate_state_machine_definition(definition=passes(2))["result"] == "OK"
    found = sfn.validate_state_machine_definition(definition=machine(
        {"A": {"Type": "Pass", "Next": "Nowhere"}}))
    assert found["result"] == "FAIL"
    assert found["diagnostics"] == [{
        "severity": "ERROR", "code": "MISSING_TRANSITION_TARGET",
        "message": "Missing 'Next' target: Nowhere", "location": "/States/A/Next"}]


@pytest.mark.parametrize("definition, expected", [
    ("{not json", "INVALID_JSON_DESCRIPTION"),
    (machine({"Train": {"Type": "Task", "End": True}}),
     "These fields are required: [Resource] at /States/Train"),
    (machine({"Gate": {"Type": "Choice", "Choices": [{"Variable": "$.x",
                                                      "NumericEquals": "one", "Next": "Gate"}]}}),
     "at /States/Gate/Choices/0/NumericEquals"),
    (machine({"Call": {"Type": "Task", "End": True,
                       "Resource": "arn:aws:states:::glue:startJobRun.sync"}}),
     "INVALID_RESOURCE: The resource provided arn:aws:states:::glue:startJobRun.sync is not "
     "recognized"),
])
def test_an_invalid_definition_names_the_state_and_field(sfn, definition, expected):
    code, message, status = error_of(sfn.create_state_machine, name=unique("bad"),
                                     definition=definition, roleArn=ROLE)
    assert (code, status) == ("InvalidDefinition", 400)
    assert message.startswith("Invalid State Machine Definition: '") and expected in message


def test_bad_names_arns_and_inputs_get_aws_errors(sfn, local_aws):
    arn = create(sfn, passes(1))
    execution = f"{ARN}execution:{arn.split(':')[-1]}:never"
    cases = [
        (sfn.create_state_machine, {"name": "has space", "definition": passes(1),
                                    "roleArn": ROLE}, "InvalidName"),
        (sfn.create_state_machine, {"name": "x" * 81, "definition": passes(1),
                                    "roleArn": ROLE}, "ValidationException"),
        (sfn.create_state_machine, {"name": unique("r"), "definition": passes(1),
                                    "roleArn": "not-a-role"}, "InvalidArn"),
        (sfn.describe_state_machine, {"stateMachineArn": "nope"}, "InvalidArn"),
        (sfn.describe_state_machine, {"stateMachineArn": execution}, "InvalidArn"),
        (sfn.describe_state_machine, {"stateMachineArn": arn + "x"},
         "StateMachineDoesNotExist"),
        (sfn.start_execution, {"stateMachineArn": arn + "x"}, "StateMachineDoesNotExist"),
        (sfn.start_execution, {"stateMachineArn": arn, "name": "a/b"}, "InvalidName"),
        (sfn.start_execution, {"stateMachineArn": arn, "input": "{nope"},
         "InvalidExecutionInput"),
        (sfn.describe_execution, {"executionArn": arn}, "InvalidArn"),
        (sfn.describe_execution, {"executionArn": execution}, "ExecutionDoesNotExist"),
        (sfn.stop_execution, {"executionArn": execution}, "ExecutionDoesNotExist"),
        (sfn.get_execution_history, {"executionArn": execution}, "ExecutionDoesNotExist"),
        (sfn.list_executions, {"stateMachineArn": arn + "x"}, "StateMachineDoesNotExist"),
        (sfn.update_state_machine, {"stateMachineArn": arn}, "MissingRequiredParameter"),
    ]
    for call, params, code in cases:
        found, message, status = error_of(call, **params)
        assert (found, status) == (code, 400), (params, message)
        assert message
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "ACTIVE"  # still up


def test_inputs_over_256_kb_are_refused(sfn):
    arn = create(sfn, passes(1))
    too_long = json.dumps({"blob": "x" * (256 * 1024)})
    code, message, status = error_of(sfn.start_execution, stateMachineArn=arn, input=too_long)
    assert (code, status) == ("ValidationException", 400) and "262144" in message
    multibyte = json.dumps({"blob": "é" * 140_000}, ensure_ascii=False)  # 280 KB in UTF-8
    code, message, status = error_of(sfn.start_execution, stateMachineArn=arn, input=multibyte)
    assert (code, status) == ("InvalidExecutionInput", 400) and "bytes" in message
    grows = create(sfn, machine({"Grow": {"Type": "Pass", "End": True, "Parameters": {
        "a.$": "$.blob", "b.$": "$.blob"}}}))
    execution = sfn.start_execution(stateMachineArn=grows, input=json.dumps(
        {"blob": "y" * 200_000}))["executionArn"]
    described = wait_until_done(sfn, execution, timeout=30)
    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")
