"""Lambda through the served Step Functions, against the local Lambda API: `lambda:invoke`
(Payload / StatusCode / FunctionError), the bare function ARN, a Retry that succeeds on the
second attempt, and the whole training flow with a Lambda step in it."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError
from service_kit import (
    ROLE,
    create,
    details,
    history,
    machine,
    training_pipeline,
    types,
    wait_until_done,
)
from testkit import client_for, unique

LAMBDA = "arn:aws:states:::lambda:invoke"
HANDLER = '''
import boto3


def handler(event, context):
    """Echoes its event; fails the first time a `fail_once` key is seen (remembered in S3,
    so that any sandbox sees it); raises on `explode`."""
    if "fail_once" in event:
        s3 = boto3.client("s3")
        key = "attempts/" + event["fail_once"]
        try:
            s3.head_object(Bucket=event["bucket"], Key=key)
        except s3.exceptions.ClientError:
            s3.put_object(Bucket=event["bucket"], Key=key, Body=b"1")
            raise RuntimeError("the first attempt fails")
    if "explode" in event:
        raise ValueError("cannot use " + str(event["explode"]))
    return {"seen": event, "function": context.function_name}
'''


@pytest.fixture(scope="module")
def function(local_aws) -> str:
    """The handler above as a Lambda function of the local AWS (its ARN)."""
    lam = client_for(local_aws, "lambda")
    try:
        lam.list_functions()
    except ClientError as error:
        if error.response["Error"]["Code"] == "NotImplemented":
            pytest.skip("the local Lambda is not on this branch yet")
        raise
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", HANDLER)
    arn = lam.create_function(FunctionName=unique("sfn-fn"), Runtime="python3.12", Role=ROLE,
                              Handler="app.handler", Code={"ZipFile": code.getvalue()},
                              Timeout=30)["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=arn)
    return arn


@pytest.fixture(scope="module")
def bucket(local_aws) -> str:
    name = unique("sfn-lambda")
    client_for(local_aws, "s3").create_bucket(Bucket=name)
    return name


def run(sfn, definition: str, execution_input: dict) -> tuple[dict, list[dict]]:
    arn = create(sfn, definition)
    execution = sfn.start_execution(stateMachineArn=arn,
                                    input=json.dumps(execution_input))["executionArn"]
    return wait_until_done(sfn, execution, timeout=120), history(sfn, execution)


def test_invoke_answers_payload_and_status_code(sfn, function):
    described, events = run(sfn, machine({"Call": {
        "Type": "Task", "Resource": LAMBDA, "End": True,
        "Parameters": {"FunctionName": function, "Payload": {"n.$": "$.n"}}}}), {"n": 7})
    output = json.loads(described["output"])
    assert output["StatusCode"] == 200 and output["ExecutedVersion"] == "$LATEST"
    assert output["Payload"] == {"seen": {"n": 7}, "function": function.split(":")[-1]}
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert details(next(e for e in events if e["type"] == "TaskScheduled"))["resourceType"] \
        == "lambda"


def test_a_bare_function_arn_outputs_the_payload(sfn, function):
    described, events = run(sfn, machine({"Call": {"Type": "Task", "Resource": function,
                                                   "End": True}}), {"n": 1})
    assert json.loads(described["output"]) == {"seen": {"n": 1},
                                               "function": function.split(":")[-1]}
    assert "LambdaFunctionSucceeded" in types(events)


def test_a_function_error_fails_the_task_with_its_error_type(sfn, function):
    described, _ = run(sfn, machine({"Call": {
        "Type": "Task", "Resource": LAMBDA, "End": True,
        "Parameters": {"FunctionName": function, "Payload": {"explode": "this"}}}}), {})
    assert (described["status"], described["error"]) == ("FAILED", "ValueError")
    assert json.loads(described["cause"])["errorMessage"] == "cannot use this"


def test_a_retry_succeeds_on_the_second_attempt(sfn, function, bucket):
    described, events = run(sfn, machine({"Call": {
        "Type": "Task", "Resource": LAMBDA, "End": True, "OutputPath": "$.Payload",
        "Parameters": {"FunctionName": function, "Payload": {
            "fail_once.$": "$$.Execution.Name", "bucket": bucket}},
        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1,
                   "MaxAttempts": 2, "BackoffRate": 2.0}]}}), {})
    assert described["status"] == "SUCCEEDED", described
    assert [t for t in types(events) if t in ("TaskFailed", "TaskSucceeded")] == [
        "TaskFailed", "TaskSucceeded"]
    failed = next(e for e in events if e["type"] == "TaskFailed")
    assert details(failed)["error"] == "RuntimeError"


def test_the_training_flow_with_a_lambda_step(sfn, aws, function, prepared):
    """Train, branch on the metric, call a Lambda that succeeds on its second attempt, fan
    out with a Parallel and a Map, succeed: the issue's whole flow, through the API."""
    notify = {"Type": "Task", "Resource": LAMBDA, "ResultPath": "$.notified",
              "ResultSelector": {"accuracy.$": "$.Payload.seen.accuracy"},
              "Parameters": {"FunctionName": function, "Payload": {
                  "fail_once.$": "$.name", "bucket.$": "$.bucket",
                  "accuracy.$": "$.training.accuracy[0]"}},
              "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1,
                         "MaxAttempts": 2}]}
    arn = create(sfn, training_pipeline(notify))
    name = unique("train")
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({
        "name": name, "bucket": prepared, "hyperparameters": {
            "n_estimators": "50", "max_depth": "6", "random_state": "7"}}))["executionArn"]
    described = wait_until_done(sfn, execution)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["notified"] == {"accuracy": output["training"]["accuracy"][0]}
    kinds = types(history(sfn, execution))
    assert kinds.count("TaskFailed") == 1 and {"ParallelStateSucceeded",
                                              "MapStateSucceeded"} <= set(kinds)
    assert aws("sagemaker").describe_model(ModelName=name)["ModelName"] == name
