"""History events have botocore's HistoryEvent shape and AWS's numbering and links."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import botocore.session
import pytest
from asl_kit import FUNCTION, LAMBDA, Script, echo, fails, machine, run, types
from botocore.parsers import create_parser
from botocore.validate import ParamValidator

from sagepipe.protocols.values import format_timestamp
from sagepipe.stepfunctions.asl import interrupted_event
from sagepipe.stepfunctions.asl.history import History, Trace
from sagepipe.stepfunctions.runs import log_record

MODEL = botocore.session.get_session().get_service_model("stepfunctions")
HISTORY = MODEL.operation_model("GetExecutionHistory").output_shape
EVENT_TYPES = set(MODEL.shape_for("HistoryEventType").enum)

EVERYTHING = machine({
    "Start": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.p", "Next": "Call"},
    "Call": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"FunctionName": "f"},
             "TimeoutSeconds": 60, "Retry": [{"ErrorEquals": ["Flaky"]}], "ResultPath": None,
             "Next": "Function"},
    "Function": {"Type": "Task", "Resource": FUNCTION, "ResultPath": None, "Next": "Fan"},
    "Fan": {"Type": "Parallel", "ResultPath": None, "Next": "Each", "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]},
    "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.each", "Next": "Pick",
             "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}},
    "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.p.n", "NumericEquals": 1,
                                            "Next": "Broken"}]},
    "Broken": {"Type": "Task", "Resource": LAMBDA, "Next": "Done",
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}]},
    "Done": {"Type": "Succeed"},
})


@pytest.fixture(scope="module")
def history():
    runner = Script(fails("Flaky", "once"), {"StatusCode": 200}, echo, fails("Nope", "no"))
    outcome, events = run(EVERYTHING, {"items": [1, 2]}, runner=runner)
    assert outcome.status == "SUCCEEDED", outcome
    return events


def test_events_validate_against_botocores_history_shape(history):
    report = ParamValidator().validate({"events": history}, HISTORY)
    assert not report.has_errors(), report.generate_report()
    assert {e["type"] for e in history} <= EVENT_TYPES


def test_a_serialised_page_parses_back_with_botocore(history):
    wire = [{**e, "timestamp": e["timestamp"].timestamp()} for e in history]
    parsed = create_parser("json").parse(
        {"body": json.dumps({"events": wire}).encode(), "headers": {}, "status_code": 200},
        HISTORY)
    assert [e["type"] for e in parsed["events"]] == types(history)
    assert parsed["events"][1]["stateEnteredEventDetails"]["name"] == "Start"


def test_ids_count_from_one_and_link_to_the_previous_event_of_their_thread(history):
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    assert history[0]["previousEventId"] == 0
    by_id = {e["id"]: e for e in history}
    started = next(e for e in history if e["type"] == "ParallelStateStarted")
    branch_starts = [e for e in history if e["previousEventId"] == started["id"]]
    assert [e["type"] for e in branch_starts] == ["WaitStateEntered", "PassStateEntered"]
    map_started = next(e for e in history if e["type"] == "MapStateStarted")
    iterations = [e for e in history if e["type"] == "MapIterationStarted"]
    assert all(e["previousEventId"] == map_started["id"] for e in iterations)
    for event in history[1:]:
        assert event["previousEventId"] in by_id and event["previousEventId"] < event["id"]


def test_the_expected_sequence(history):
    assert types(history)[:12] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered",
        "TaskScheduled", "TaskStarted", "TaskFailed", "TaskScheduled", "TaskStarted",
        "TaskSucceeded", "TaskStateExited", "TaskStateEntered"]
    assert types(history)[12:15] == ["LambdaFunctionScheduled", "LambdaFunctionStarted",
                                     "LambdaFunctionSucceeded"]
    assert types(history)[-8:] == [  # a caught failure exits the state, then goes on
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed", "TaskStateExited",
        "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]


def test_task_events_name_the_integration(history):
    scheduled = next(e for e in history if e["type"] == "TaskScheduled")
    assert scheduled["taskScheduledEventDetails"] == {
        "resourceType": "lambda", "resource": "invoke", "region": "us-east-1",
        "parameters": '{"FunctionName":"f"}', "timeoutInSeconds": 60}
    failed = next(e for e in history if e["type"] == "TaskFailed")
    assert failed["taskFailedEventDetails"] == {"resourceType": "lambda", "resource": "invoke",
                                                "error": "Flaky", "cause": "once"}


@pytest.mark.parametrize(("resource", "resource_type", "name"), [
    ("arn:aws:states:::sagemaker:createTrainingJob.sync", "sagemaker",
     "createTrainingJob.sync"),
    ("arn:aws:states:::aws-sdk:s3:listBuckets", "aws-sdk:s3", "listBuckets"),
])
def test_resource_type_and_resource(resource, resource_type, name):
    _, events = run(machine({"T": {"Type": "Task", "Resource": resource, "End": True}}),
                    runner=Script({}))
    assert events[3]["taskStartedEventDetails"] == {"resourceType": resource_type,
                                                    "resource": name}


def test_the_event_that_ends_an_execution_cut_short_by_a_restart(history):
    event = interrupted_event(len(history), history[-1]["timestamp"])
    assert (event["id"], event["previousEventId"], event["type"]) == (
        len(history) + 1, len(history), "ExecutionAborted")
    assert event["executionAbortedEventDetails"]["error"] == "LocalAws.Restarted"
    report = ParamValidator().validate({"events": [*history, event]}, HISTORY)
    assert not report.has_errors(), report.generate_report()


def test_event_times_are_whole_milliseconds_so_the_log_and_the_api_say_the_same_time():
    """The logged record's event_timestamp (epoch ms) and the time GetExecutionHistory answers
    (epoch seconds to the millisecond) are one number, whatever the clock's microseconds: the
    two roundings of a time in the middle of a millisecond disagreed (found by a suite run)."""
    start = datetime(2026, 12, 2, 8, 4, 29, tzinfo=UTC)
    disagree = []
    for micros in range(500, 1_000_000, 1000):  # every half millisecond of a second
        events: list[dict] = []
        History(events.append, lambda m=micros: start.replace(microsecond=m)).emit(
            Trace(), "ExecutionStarted", {})
        logged = int(json.loads(log_record(events[0], "arn"))["event_timestamp"])
        answered = format_timestamp(events[0]["timestamp"].timestamp(), "unixTimestamp")
        if logged != round(float(answered) * 1000):
            disagree.append(micros)
    assert disagree == []
