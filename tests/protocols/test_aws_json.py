"""AWS JSON 1.0 and 1.1 as the inverse of botocore: what botocore's serializer sends is read
back as the call's parameters, what the protocol answers botocore's parser reads back."""

from __future__ import annotations

import datetime as dt

import pytest
from wire_kit import answered, as_epochs, parsed, refused, sent

from sagepipe.errors import AWSError, NotEmulated
from sagepipe.protocols import protocol_for
from sagepipe.protocols.service_models import service_model
from sagepipe.protocols.wire import WireRequest

AT = dt.datetime(2026, 11, 22, 5, 26, 24, 313000, tzinfo=dt.UTC)
ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:train"


@pytest.mark.parametrize("service, operation, params", [
    ("stepfunctions", "StartExecution", {"stateMachineArn": ARN, "name": "run-1",
                                         "input": '{"commit": "1a2b3c"}'}),
    ("logs", "FilterLogEvents", {"logGroupName": "/aws/sagemaker/TrainingJobs",
                                 "logStreamNames": ["a", "b"], "startTime": 1764000000000,
                                 "filterPattern": "ERROR", "limit": 50}),
    ("sagemaker", "ListTrainingJobs", {"CreationTimeAfter": AT, "MaxResults": 5,
                                       "SortBy": "Name", "StatusEquals": "Completed"}),
    ("sagemaker", "CreateEndpointConfig", {
        "EndpointConfigName": "c", "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 2,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": 0.5}],
        "Tags": [{"Key": "stage", "Value": "qa"}]}),
    ("ecr", "DescribeImages", {"repositoryName": "sagepipe", "imageIds": [{"imageTag": "1"}]}),
])
def test_requests_read_back_as_sent(service, operation, params):
    assert parsed(service, operation, params) == (operation, as_epochs(params))


def test_json_versions_and_targets_come_from_the_model():
    request = sent("stepfunctions", "StartExecution", {"stateMachineArn": ARN})
    assert request.headers["x-amz-target"] == "AWSStepFunctions.StartExecution"
    response = protocol_for(service_model("stepfunctions")).serialize(
        service_model("stepfunctions").operation_model("StartExecution"),
        {"executionArn": ARN, "startDate": AT}, "id")
    assert response.headers["content-type"] == "application/x-amz-json-1.0"


@pytest.mark.parametrize("service, operation, result", [
    ("stepfunctions", "StartExecution", {"executionArn": f"{ARN}:run-1", "startDate": AT}),
    ("stepfunctions", "DescribeExecution", {
        "executionArn": f"{ARN}:run-1", "stateMachineArn": ARN, "status": "SUCCEEDED",
        "startDate": AT, "stopDate": AT + dt.timedelta(seconds=90), "output": "{}"}),
    ("logs", "FilterLogEvents", {
        "events": [{"logStreamName": "train/algo-1", "timestamp": 1764000000123,
                    "message": "loss=0.31;", "ingestionTime": 1764000000456,
                    "eventId": "1"}],
        "nextToken": "t"}),
    ("sagemaker", "DescribeEndpoint", {
        "EndpointName": "sagepipe-qa", "EndpointArn": "arn:aws:sagemaker:us-east-1:0:e/q",
        "EndpointConfigName": "c", "EndpointStatus": "InService", "CreationTime": AT,
        "LastModifiedTime": AT, "ProductionVariants": [
            {"VariantName": "AllTraffic", "CurrentWeight": 1.0, "CurrentInstanceCount": 1}]}),
])
def test_answers_read_back_as_returned(service, operation, result):
    assert answered(service, operation, result) == result


def test_handlers_may_answer_timestamps_as_epoch_seconds():
    answer = answered("stepfunctions", "StartExecution",
                      {"executionArn": ARN, "startDate": AT.timestamp()})
    assert answer["startDate"] == AT


@pytest.mark.parametrize("service, operation, error", [
    ("sagemaker", "DescribeTrainingJob", AWSError("ResourceNotFound", "Requested resource "
                                                  "not found.")),
    ("logs", "FilterLogEvents", AWSError("ResourceNotFoundException", "The specified log "
                                         "group does not exist.")),
    ("stepfunctions", "StartExecution", NotEmulated("sagepipe's local Step Functions does not "
                                                    "emulate StartExecution.")),
])
def test_errors_read_back_with_their_code_message_and_status(service, operation, error):
    assert refused(service, operation, error) == (
        {"Code": error.code, "Message": error.message}, error.status)


def test_an_operation_the_model_lacks_is_an_unknown_operation():
    protocol = protocol_for(service_model("sagemaker"))
    for target in ("SageMaker.MineBitcoin", "Other.ListEndpoints", ""):
        request = WireRequest.of("POST", "/", headers={"X-Amz-Target": target}, body=b"{}")
        with pytest.raises(AWSError) as caught:
            protocol.operation(request)
        assert (caught.value.code, caught.value.status) == ("UnknownOperationException", 400)


def test_input_is_checked_against_the_model_with_the_services_code():
    protocol = protocol_for(service_model("ecr"))
    request = sent("ecr", "DescribeImages", {"repositoryName": "repo"})
    request = WireRequest(request.method, request.path, request.query, request.headers,
                          b'{"repositoryName": "UPPER CASE not allowed"}')
    with pytest.raises(AWSError) as caught:
        protocol.parse(protocol.operation(request), request)
    assert caught.value.code == "ValidationException"
    assert "failed to satisfy constraint" in caught.value.message
    bad_json = WireRequest(request.method, request.path, request.query, request.headers,
                           b"{not json")
    with pytest.raises(AWSError, match="not JSON") as caught:
        protocol.parse(protocol.operation(bad_json), bad_json)
    assert caught.value.code == "SerializationException"
