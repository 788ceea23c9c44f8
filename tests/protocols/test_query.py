"""The query protocol as the inverse of botocore: flattened lists, maps and structures read back
as sent; `<OperationResponse><OperationResult>` answers and `<ErrorResponse>` errors read back
by botocore's parser."""

from __future__ import annotations

import datetime as dt

import pytest
from wire_kit import REQUEST_ID, answered, as_epochs, parsed, refused, sent

from sagepipe.errors import AWSError
from sagepipe.protocols import protocol_for
from sagepipe.protocols.service_models import service_model
from sagepipe.protocols.wire import WireRequest

AT = dt.datetime(2026, 11, 22, 5, 26, 24, 313000, tzinfo=dt.UTC)
STACK_ID = "arn:aws:cloudformation:us-east-1:000000000000:stack/sagepipe-qa/1"
ROLE_ARN = "arn:aws:iam::000000000000:role/sagepipe-sagemaker"


@pytest.mark.parametrize("service, operation, params", [
    ("cloudformation", "CreateStack", {
        "StackName": "sagepipe-qa", "TemplateURL": "https://b.s3.amazonaws.com/endpoint.yaml",
        "Parameters": [{"ParameterKey": "StageName", "ParameterValue": "qa"},
                       {"ParameterKey": "ModelDataUrl", "UsePreviousValue": True}],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"], "TimeoutInMinutes": 30,
        "Tags": [{"Key": "project", "Value": "sagepipe"}], "OnFailure": "ROLLBACK"}),
    ("cloudformation", "DescribeStacks", {"StackName": "sagepipe-qa", "NextToken": "t"}),
    ("cloudformation", "UpdateStack", {"StackName": "s", "UsePreviousTemplate": True,
                                       "Capabilities": []}),
    ("iam", "GetRole", {"RoleName": "sagepipe-sagemaker"}),
    ("sts", "GetCallerIdentity", {}),
    ("sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:000000000000:approvals",
                        "Message": "approve?", "Subject": "sagepipe release",
                        "MessageAttributes": {
                            "commit": {"DataType": "String", "StringValue": "1a2b3c"},
                            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}}),
    ("sns", "SetTopicAttributes", {"TopicArn": "arn:aws:sns:us-east-1:000000000000:t",
                                   "AttributeName": "DisplayName", "AttributeValue": "x y"}),
])
def test_requests_read_back_as_sent(service, operation, params):
    assert parsed(service, operation, params) == (operation, as_epochs(params))


@pytest.mark.parametrize("service, operation, result", [
    ("cloudformation", "CreateStack", {"StackId": STACK_ID}),
    ("cloudformation", "DescribeStacks", {"Stacks": [{
        "StackId": STACK_ID, "StackName": "sagepipe-qa", "CreationTime": AT,
        "StackStatus": "UPDATE_ROLLBACK_COMPLETE", "StackStatusReason": "rolled back",
        "Parameters": [{"ParameterKey": "StageName", "ParameterValue": "qa"}],
        "Outputs": [{"OutputKey": "EndpointName", "OutputValue": "sagepipe-qa",
                     "Description": "the endpoint"}],
        "Capabilities": ["CAPABILITY_IAM"], "Tags": [{"Key": "k", "Value": "v"}],
        "DisableRollback": False}], "NextToken": "t2"}),
    ("iam", "GetRole", {"Role": {
        "Path": "/", "RoleName": "sagepipe-sagemaker", "RoleId": "AROAEXAMPLE00000000000",
        "Arn": ROLE_ARN, "CreateDate": AT, "MaxSessionDuration": 3600,
        "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%7D",
        "Tags": [{"Key": "project", "Value": "sagepipe"}],
        "RoleLastUsed": {"LastUsedDate": AT, "Region": "us-east-1"}}}),
    ("sts", "GetCallerIdentity", {"UserId": "LSIAEXAMPLE", "Account": "000000000000",
                                  "Arn": "arn:aws:iam::000000000000:root"}),
    ("sns", "GetTopicAttributes", {"Attributes": {"DisplayName": "x", "Policy": "{}"}}),
    ("sns", "ListTopics", {"Topics": [{"TopicArn": "arn:aws:sns:us-east-1:0:a"}]}),
])
def test_answers_read_back_as_returned(service, operation, result):
    assert answered(service, operation, result) == result


def test_an_answer_names_the_operation_and_the_services_namespace():
    model = service_model("sts")
    response = protocol_for(model).serialize(model.operation_model("GetCallerIdentity"),
                                             {"Account": "000000000000"}, REQUEST_ID)
    assert response.body.startswith(b"<?xml")
    assert b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">' \
        in response.body
    assert b"<GetCallerIdentityResult><Account>000000000000</Account>" in response.body


@pytest.mark.parametrize("service, operation, error", [
    ("cloudformation", "DescribeStacks", AWSError("ValidationError", "Stack with id x does "
                                                  "not exist")),
    ("iam", "GetRole", AWSError("NoSuchEntity", "The role with name x cannot be found.", 404)),
    ("sts", "GetCallerIdentity", AWSError("InternalFailure", "see the gateway log", 500)),
])
def test_errors_read_back_with_their_code_message_and_status(service, operation, error):
    assert refused(service, operation, error) == (
        {"Code": error.code, "Message": error.message,
         "Type": "Sender" if error.status < 500 else "Receiver"}, error.status)


def test_the_action_must_be_one_of_the_services():
    protocol = protocol_for(service_model("sts"))
    for body, code in ((b"Action=MineBitcoin&Version=2011-06-15", "InvalidAction"),
                       (b"Version=2011-06-15", "MissingAction")):
        request = WireRequest.of("POST", "/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        with pytest.raises(AWSError) as caught:
            protocol.operation(request)
        assert caught.value.code == code
    query_string = WireRequest.of("GET", "/", "Action=GetCallerIdentity&Version=2011-06-15")
    assert protocol.operation(query_string).name == "GetCallerIdentity"


def test_input_is_checked_with_the_services_validation_code():
    protocol = protocol_for(service_model("cloudformation"))
    request = sent("cloudformation", "CreateStack", {"StackName": "s", "TimeoutInMinutes": 5})
    request = WireRequest(request.method, request.path, request.query, request.headers,
                          request.body.replace(b"TimeoutInMinutes=5", b"TimeoutInMinutes=soon"))
    with pytest.raises(AWSError) as caught:
        protocol.parse(protocol.operation(request), request)
    assert caught.value.code == "ValidationError" and "TimeoutInMinutes" in caught.value.message
    missing = WireRequest.of("POST", "/", body=b"Action=CreateStack&Version=2010-05-15",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(AWSError, match="StackName") as caught:
        protocol.parse(protocol.operation(missing), missing)
    assert caught.value.code == "ValidationError"
