"""Executions logged as Step Functions logs them, read through the CloudWatch Logs API: a
stream of the state machine's vended-logs group holds an execution's history events as JSON
records carrying its ARN (what the console filters on), payloads only when the state
machine's LoggingConfiguration includes execution data."""

from __future__ import annotations

import json
import re

import pytest
from service_kit import create, history, machine, wait_until_done
from testkit import unique

HELLO = machine({"Hello": {"Type": "Pass", "Parameters": {"greeting.$": "$.who"},
                           "End": True}})


@pytest.fixture
def logs(aws):
    return aws("logs")


def records(logs, group: str, **options) -> list[dict]:
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, **options)
    return [{**json.loads(e["message"]), "stream": e["logStreamName"],
             "timestamp": e["timestamp"]} for page in pages for e in page["events"]]


def test_a_standard_execution_is_logged_as_its_history(sfn, logs):
    name = unique("logged")
    arn = create(sfn, HELLO, name=name)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"who": "logs"}')[
        "executionArn"]
    wait_until_done(sfn, execution, timeout=30)
    group = f"/aws/vendedlogs/states/{name}"
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert re.fullmatch(rf"states/{name}/\d{{4}}-\d\d-\d\d-\d\d-\d\d/[0-9a-f]{{8}}",
                        stream["logStreamName"])
    page = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                               startFromHead=True)
    logged = [json.loads(e["message"]) for e in page["events"]]
    events = history(sfn, execution)
    assert [(r["id"], r["type"], r["previous_event_id"]) for r in logged] == [
        (str(e["id"]), e["type"], str(e["previousEventId"])) for e in events]
    assert {r["execution_arn"] for r in logged} == {execution}
    stamps = [round(e["timestamp"].timestamp() * 1000) for e in events]
    assert [int(r["event_timestamp"]) for r in logged] == stamps
    assert [e["timestamp"] for e in page["events"]] == stamps
    assert logged[0]["details"]["roleArn"].endswith(":role/StepFunctionsRole")
    # includeExecutionData is false by default: no input or output in the log
    assert not [r for r in logged if {"input", "output"} & set(r["details"])]


def test_execution_data_is_logged_when_the_state_machine_asks(sfn, logs):
    name = unique("with-data")
    arn = create(sfn, HELLO, name=name, loggingConfiguration={
        "level": "ALL", "includeExecutionData": True, "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:000000000000:"
                                        f"log-group:/aws/vendedlogs/states/{name}:*"}}]})
    execution = sfn.start_execution(stateMachineArn=arn, input='{"who": "data"}')[
        "executionArn"]
    wait_until_done(sfn, execution, timeout=30)
    logged = records(logs, f"/aws/vendedlogs/states/{name}")
    assert json.loads(logged[0]["details"]["input"]) == {"who": "data"}
    assert logged[-1]["type"] == "ExecutionSucceeded"
    assert json.loads(logged[-1]["details"]["output"]) == {"greeting": "data"}


def test_a_payload_too_long_for_an_event_is_logged_truncated(sfn, logs):
    name = unique("long-data")
    arn = create(sfn, machine({"Keep": {"Type": "Pass", "End": True}}), name=name,
                 loggingConfiguration={"level": "ALL", "includeExecutionData": True})
    text = '"' * 130_000  # 130 KB of input, twice that once escaped in the log event
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"t": text}))[
        "executionArn"]
    assert wait_until_done(sfn, execution, timeout=30)["status"] == "SUCCEEDED"
    logged = records(logs, f"/aws/vendedlogs/states/{name}")  # each record one JSON event
    started = logged[0]["details"]
    assert started["inputDetails"] == {"truncated": True}
    assert 0 < len(json.dumps(started["input"]).encode()) <= 248 * 1024
    assert started["input"].startswith('{"t":"\\"\\"')  # the start of the input, as given
    assert logged[-1]["type"] == "ExecutionSucceeded"


def test_express_executions_are_found_by_their_arn(sfn, logs):
    """EXPRESS executions keep no history: their log is all there is; filtering the group on
    an execution's ARN finds its events only."""
    name = unique("express-logged")
    arn = create(sfn, HELLO, name=name, type="EXPRESS")
    first, second = (sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps(
        {"who": who}))["executionArn"] for who in ("a", "b"))
    group = f"/aws/vendedlogs/states/{name}"
    found = records(logs, group, filterPattern=f'"{second}"')
    assert {r["execution_arn"] for r in found} == {second}
    assert [r["type"] for r in found][::len(found) - 1] == ["ExecutionStarted",
                                                          "ExecutionSucceeded"]
    everything = records(logs, group)
    assert {r["execution_arn"] for r in everything} == {first, second}
    assert len({r["stream"] for r in everything}) == 2  # a stream per execution
