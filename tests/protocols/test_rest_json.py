"""REST-JSON as the inverse of botocore: URI labels, query string, headers, JSON bodies and raw
payloads read back as sent; answers (status code, header and payload members) and errors
(`x-amzn-ErrorType`) read back by botocore's parser."""

from __future__ import annotations

import pytest
from wire_kit import answered, parsed, read, refused, sent

from sagepipe.errors import AWSError
from sagepipe.protocols import protocol_for
from sagepipe.protocols.service_models import service_model
from sagepipe.protocols.wire import WireRequest

FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:sagepipe-api"


@pytest.mark.parametrize("operation, params", [
    ("CreateFunction", {
        "FunctionName": "sagepipe-api", "Runtime": "python3.12", "Handler": "app.app",
        "Role": "arn:aws:iam::000000000000:role/lambda", "Timeout": 60, "MemorySize": 512,
        "Code": {"ZipFile": b"PK\x03\x04 not really a zip"}, "Publish": True,
        "Environment": {"Variables": {"ENDPOINT_NAME": "sagepipe-prod"}},
        "Tags": {"project": "sagepipe"}, "Architectures": ["x86_64"]}),
    ("Invoke", {"FunctionName": FUNCTION_ARN, "InvocationType": "RequestResponse",
                "LogType": "Tail", "Payload": b'{"records": [1, 2]}', "Qualifier": "live"}),
    ("ListFunctions", {"MaxItems": 5, "Marker": "next page/é", "FunctionVersion": "ALL"}),
    ("GetFunction", {"FunctionName": "sagepipe-api", "Qualifier": "3"}),
    ("UpdateFunctionCode", {"FunctionName": "sagepipe-api", "S3Bucket": "artifacts",
                            "S3Key": "code/deployment.zip", "DryRun": False}),
])
def test_lambda_requests_read_back_as_sent(operation, params):
    assert parsed("lambda", operation, params) == (operation, params)


def test_the_runtime_reads_a_raw_body_and_its_headers():
    params = {"EndpointName": "sagepipe-prod", "Body": b"3,male,22\n", "ContentType": "text/csv",
              "Accept": "application/json", "CustomAttributes": "trace=1",
              "TargetVariant": "AllTraffic"}
    assert parsed("sagemaker-runtime", "InvokeEndpoint", params) == ("InvokeEndpoint", params)


@pytest.mark.parametrize("operation, result", [
    ("Invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "LogResult": "bG9ncw==",
                "Payload": b'{"errorMessage": "boom"}', "ExecutedVersion": "$LATEST"}),
    ("Invoke", {"StatusCode": 202, "Payload": b""}),
    ("ListFunctions", {"NextMarker": "m2", "Functions": [
        {"FunctionName": "sagepipe-api", "FunctionArn": FUNCTION_ARN, "Runtime": "python3.12",
         "Timeout": 60, "MemorySize": 512, "LastModified": "2026-11-22T05:26:24.313+0000",
         "Environment": {"Variables": {"A": "b"}}}]}),
    ("CreateFunction", {"FunctionName": "sagepipe-api", "FunctionArn": FUNCTION_ARN,
                        "State": "Active", "CodeSize": 1024, "Architectures": ["x86_64"]}),
])
def test_lambda_answers_read_back_as_returned(operation, result):
    assert answered("lambda", operation, result) == result


def test_the_runtime_answers_raw_bytes_with_its_headers():
    result = {"Body": b'{"predictions": [1]}', "ContentType": "application/json",
              "InvokedProductionVariant": "AllTraffic", "CustomAttributes": "trace=1"}
    assert answered("sagemaker-runtime", "InvokeEndpoint", result) == result


@pytest.mark.parametrize("service, operation, error", [
    ("lambda", "GetFunction", AWSError("ResourceNotFoundException", "Function not found: "
                                       f"{FUNCTION_ARN}", 404)),
    ("lambda", "CreateFunction", AWSError("ResourceConflictException", "Function already "
                                          "exist: sagepipe-api", 409)),
    ("sagemaker-runtime", "InvokeEndpoint", AWSError("ModelError", "Received client error "
                                                     "(415) from primary", 424)),
])
def test_errors_read_back_with_their_code_message_and_status(service, operation, error):
    assert refused(service, operation, error) == (
        {"Code": error.code, "Message": error.message}, error.status)


def test_an_error_shapes_fields_travel_with_it():
    error = AWSError("ModelError", "Received server error (500) from primary", 424,
                     OriginalStatusCode=500, OriginalMessage="boom",
                     LogStreamArn="arn:aws:logs:us-east-1:0:log-group:x")
    response = protocol_for(service_model("sagemaker-runtime")).serialize_error(error, "i",
                                                                                "POST")
    answer = read("sagemaker-runtime", "InvokeEndpoint", response)
    assert answer["OriginalStatusCode"] == 500 and answer["OriginalMessage"] == "boom"


def test_a_route_the_model_lacks_is_an_unknown_operation_naming_the_routes():
    protocol = protocol_for(service_model("sagemaker-runtime"))
    for method, path in (("GET", "/endpoints/x/invocations"), ("POST", "/invocations")):
        with pytest.raises(AWSError) as caught:
            protocol.operation(WireRequest.of(method, path))
        assert (caught.value.code, caught.value.status) == ("UnknownOperationException", 404)
        assert "InvokeEndpoint: POST /endpoints/{EndpointName}/invocations" in \
            caught.value.message


def test_text_that_is_not_of_its_members_type_is_a_validation_error():
    protocol = protocol_for(service_model("lambda"))
    request = sent("lambda", "ListFunctions", {"MaxItems": 5})
    request = WireRequest(request.method, request.path, "MaxItems=five", request.headers)
    with pytest.raises(AWSError) as caught:
        protocol.parse(protocol.operation(request), request)
    assert caught.value.code == "ValidationException" and "MaxItems" in caught.value.message
