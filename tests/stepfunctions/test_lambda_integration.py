"""lambda:invoke and bare function ARNs: the result shape and AWS's error names. The local
AWS has no Lambda API yet, so Lambda itself is botocore's Stubber (the AWS boundary)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from asl_kit import FUNCTION, LAMBDA, info, machine
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import Stubber

from sagepipe.stepfunctions.asl import Execution, TaskFailure, TaskRequest, parse_definition
from sagepipe.stepfunctions.integrations import AwsIntegrations


@pytest.fixture
def lambda_stub():
    client = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                   region_name="us-east-1").client(
        "lambda", config=Config(parameter_validation=False))
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def payload(value) -> StreamingBody:
    body = json.dumps(value).encode()
    return StreamingBody(io.BytesIO(body), len(body))


def invoke(client, resource: str, parameters) -> object:
    return AwsIntegrations(lambda service: client).run(TaskRequest(
        resource, parameters, "us-east-1", "arn:execution", "Call"))


def test_invoke_returns_the_payload_and_the_invoke_metadata(lambda_stub):
    client, stubber = lambda_stub
    stubber.add_response("invoke", {"StatusCode": 200, "ExecutedVersion": "$LATEST",
                                    "Payload": payload({"accuracy": 0.9})},
                         {"FunctionName": "score", "Payload": b'{"rows": 3}'})
    result = invoke(client, LAMBDA, {"FunctionName": "score", "Payload": {"rows": 3}})
    assert result["Payload"] == {"accuracy": 0.9}
    assert (result["StatusCode"], result["ExecutedVersion"]) == (200, "$LATEST")
    assert set(result) == {"ExecutedVersion", "Payload", "SdkHttpMetadata",
                           "SdkResponseMetadata", "StatusCode"}


def test_a_bare_function_arn_outputs_the_payload(lambda_stub):
    client, stubber = lambda_stub
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": payload([1, 2])},
                         {"FunctionName": FUNCTION, "Payload": b'{"x": 1}'})
    assert invoke(client, FUNCTION, {"x": 1}) == [1, 2]


@pytest.mark.parametrize(("error_payload", "error"), [
    ({"errorType": "ValueError", "errorMessage": "bad row", "stackTrace": []}, "ValueError"),
    ({"errorMessage": "Task timed out after 3.00 seconds"}, "Lambda.Unknown"),
])
def test_a_function_error_fails_the_task_with_its_error_type(lambda_stub, error_payload, error):
    client, stubber = lambda_stub
    stubber.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                    "Payload": payload(error_payload)})
    with pytest.raises(TaskFailure) as failure:
        invoke(client, LAMBDA, {"FunctionName": "score"})
    assert failure.value.error == error
    assert json.loads(failure.value.cause) == error_payload


@pytest.mark.parametrize(("code", "status", "error"), [
    ("ResourceNotFoundException", 404, "Lambda.ResourceNotFoundException"),
    ("TooManyRequestsException", 429, "Lambda.TooManyRequestsException"),
    ("SomethingUnmodeled", 500, "Lambda.AWSLambdaException"),
])
def test_service_errors_are_named_as_step_functions_names_them(lambda_stub, code, status,
                                                               error):
    client, stubber = lambda_stub
    stubber.add_client_error("invoke", service_error_code=code, service_message="nope",
                             http_status_code=status)
    with pytest.raises(TaskFailure) as failure:
        invoke(client, LAMBDA, {"FunctionName": "score"})
    assert failure.value.error == error
    assert f"Status Code: {status}; Error Code: {code}" in failure.value.cause


def test_retry_on_a_function_error_succeeds_on_the_second_attempt(lambda_stub):
    client, stubber = lambda_stub
    stubber.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                    "Payload": payload({"errorType": "Flaky"})})
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": payload({"ok": True})})
    definition = machine({"Call": {
        "Type": "Task", "Resource": LAMBDA, "End": True, "OutputPath": "$.Payload",
        "Parameters": {"FunctionName": "score"},
        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1,
                   "MaxAttempts": 2}]}})
    execution = Execution(parse_definition(json.dumps(definition)), {}, info(),
                          AwsIntegrations(lambda service: client), [].append)
    assert execution.run().output == {"ok": True}


def test_an_unknown_integration_fails_with_states_runtime_naming_it():
    with pytest.raises(TaskFailure) as failure:
        invoke(None, "arn:aws:states:::glue:startJobRun.sync", {})
    assert failure.value.error == "States.Runtime"
    assert "arn:aws:states:::glue:startJobRun.sync is not recognized" in failure.value.cause
