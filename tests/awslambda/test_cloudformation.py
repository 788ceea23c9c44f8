"""The local CloudFormation's Lambda types, deployed through the local CloudFormation API
and created through the local Lambda API:
`AWS::Lambda::Function` with inline code (zipped as index.py) or code in S3,
`AWS::Serverless::Function` from a packaged CodeUri, `AWS::Lambda::Permission`,
`AWS::Lambda::EventInvokeConfig`; updated in place, deleted with their stack."""

from __future__ import annotations

import json

import pytest
from awslambda.lambda_kit import HANDLER, invoke, zip_of
from botocore.exceptions import ClientError
from testkit import LocalStacks, StackFailed, unique

from sagepipe.server import log_file

TEMPLATE = """
Parameters:
  Greeting: {Type: String}
  Bucket: {Type: String}
  Retries: {Type: Number, Default: 2}
Resources:
  Inline:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/inline
      Timeout: "5"
      MemorySize: "256"
      ReservedConcurrentExecutions: 2
      Environment: {Variables: {GREETING: !Ref Greeting}}
      Tags: [{Key: team, Value: ml}]
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              return os.environ["GREETING"]
  FromS3:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-from-s3"
      Runtime: python3.12
      Handler: app.handler
      Role: arn:aws:iam::000000000000:role/from-s3
      Code: {S3Bucket: !Ref Bucket, S3Key: fn.zip}
  Sam:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: !Sub "s3://${Bucket}/fn.zip"
      Handler: app.handler
      Runtime: python3.13
      Tracing: Active
  Allow:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Inline
      Action: lambda:InvokeFunction
      Principal: s3.amazonaws.com
      SourceArn: !Sub "arn:aws:s3:::${Bucket}"
  Async:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Inline
      Qualifier: $LATEST
      MaximumRetryAttempts: !Ref Retries
      DestinationConfig:
        OnFailure: {Destination: !GetAtt FromS3.Arn}
Outputs:
  InlineName: {Value: !Ref Inline}
  InlineArn: {Value: !GetAtt Inline.Arn}
  SamName: {Value: !Ref Sam}
  Statement: {Value: !Ref Allow}
"""


@pytest.fixture
def code_bucket(s3):
    bucket = unique("cfn-code")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=zip_of({"app.py": HANDLER}))
    return bucket


def test_a_stack_creates_updates_and_deletes_functions(local_aws, aws, code_bucket):
    lam = aws("lambda")
    stacks = LocalStacks(local_aws)
    stack = unique("lambda-stack")
    outputs = stacks.deploy(stack, TEMPLATE, {"Greeting": "hello", "Bucket": code_bucket})
    inline = outputs["InlineName"]
    assert outputs["InlineArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{inline}"
    assert invoke(lam, inline)[1] == "hello"
    config = lam.get_function(FunctionName=inline)
    assert (config["Configuration"]["Timeout"], config["Configuration"]["MemorySize"]) == (5, 256)
    assert config["Tags"] == {"team": "ml"}
    # what the local AWS cannot apply, it says in its log (`sagepipe logs gateway`)
    assert "ReservedConcurrentExecutions recorded only" in log_file(local_aws).read_text()
    assert invoke(lam, f"{stack}-from-s3")[1]["invocations"] == 1
    sam = lam.get_function_configuration(FunctionName=outputs["SamName"])
    assert sam["TracingConfig"] == {"Mode": "Active"} and sam["Runtime"] == "python3.13"
    policy = json.loads(lam.get_policy(FunctionName=inline)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == [outputs["Statement"]]

    settings = lam.get_function_event_invoke_config(FunctionName=inline, Qualifier="$LATEST")
    assert settings["MaximumRetryAttempts"] == 2
    assert settings["DestinationConfig"]["OnFailure"]["Destination"] == \
        f"arn:aws:lambda:us-east-1:000000000000:function:{stack}-from-s3"

    stacks.deploy(stack, TEMPLATE, {"Greeting": "bonjour", "Bucket": code_bucket,
                                    "Retries": "0"})
    assert invoke(lam, inline)[1] == "bonjour"  # the same function, updated in place
    assert lam.get_function_event_invoke_config(
        FunctionName=inline, Qualifier="$LATEST")["MaximumRetryAttempts"] == 0

    stacks.delete(stack)
    for name in (inline, f"{stack}-from-s3", outputs["SamName"]):
        with pytest.raises(ClientError) as caught:
            lam.get_function(FunctionName=name)
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_function_lambda_refuses_rolls_the_stack_back(local_aws, aws):
    old = """
Resources:
  Old:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.8
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/old
      Code: {ZipFile: "def handler(event, context): pass"}
"""
    stacks = LocalStacks(local_aws)
    stack = unique("old-runtime")
    with pytest.raises(StackFailed, match=r"InvalidParameterValueException: The runtime "
                                          r"parameter of python3\.8 is no longer supported"):
        stacks.deploy(stack, old, {})
    assert stacks.describe(stack)["StackStatus"] == "ROLLBACK_COMPLETE"
    stacks.delete(stack)
