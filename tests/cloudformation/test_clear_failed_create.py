"""A first prod deploy that failed does not block every later run: the ClearFailedCreate build
(CodePipeline/scripts/clear_failed_create.py, through boto3 and the local CloudFormation API)
deletes a stack left in ROLLBACK_COMPLETE, so that the CREATE_UPDATE deploy that follows
creates it; a stack that serves, even one whose last update failed, is left as it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from stack_kit import model_data
from testkit import REPO, STUB_IMAGE_DIR, register_image

from sagepipe.clients import local_env
from sagepipe.cloudformation.providers import Context
from sagepipe.cloudformation.stacks import StackError, Stacks
from sagepipe.cloudformation.template import load
from sagepipe.store import Store

SCRIPT = REPO / "CodePipeline" / "scripts" / "clear_failed_create.py"
IMAGE_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/echo:clear-failed"
TEMPLATE = """
Parameters:
  EndpointName: {Type: String}
  ModelDataUrl: {Type: String}
Resources:
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: arn:aws:iam::000000000000:role/sm
      PrimaryContainer: {Image: IMAGE_URI, ModelDataUrl: !Ref ModelDataUrl}
  Config:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - {VariantName: AllTraffic, ModelName: !GetAtt Model.ModelName,
           InitialInstanceCount: 1, InstanceType: ml.m5.large}
  Endpoint:
    Type: AWS::SageMaker::Endpoint
    Properties:
      EndpointName: !Ref EndpointName
      EndpointConfigName: !GetAtt Config.EndpointConfigName
""".replace("IMAGE_URI", IMAGE_URI)


@pytest.fixture(scope="module")
def template(local_aws, tmp_path_factory) -> Path:
    register_image(local_aws, STUB_IMAGE_DIR, IMAGE_URI)
    path = tmp_path_factory.mktemp("clear-failed") / "endpoint.yaml"
    path.write_text(TEMPLATE)
    return path


def invoke(aws, endpoint: str) -> str:
    reply = aws("sagemaker-runtime").invoke_endpoint(EndpointName=endpoint, Body=b"x",
                                                     ContentType="text/plain")
    return reply["Body"].read().decode()


def clear_failed_create(settings, *stacks: str) -> subprocess.CompletedProcess[str]:
    """The ClearFailedCreate build's command, in the environment the local CodeBuild gives."""
    return subprocess.run([sys.executable, str(SCRIPT), *stacks],
                          env={**os.environ, **local_env(settings)}, capture_output=True,
                          text=True, timeout=300, check=False)


def test_a_failed_first_create_is_cleared_and_a_serving_stack_is_kept(local_aws, aws, template):
    stacks = Stacks(Store(local_aws.db_path), Context(local_aws, lambda _line: None))
    # prod's first create fails: ROLLBACK_COMPLETE, which CREATE_UPDATE cannot update.
    with pytest.raises(StackError, match="failed to create"):
        stacks.deploy("clear-prod", load(template), {"EndpointName": "clear-prod",
                                               "ModelDataUrl": model_data(aws("s3"), "crash")})
    assert stacks.describe("clear-prod")["Status"] == "ROLLBACK_COMPLETE"
    with pytest.raises(StackError, match="cannot be updated"):
        stacks.deploy("clear-prod", load(template), {"EndpointName": "clear-prod",
                                               "ModelDataUrl": model_data(aws("s3"), "v1")})
    # A stack that serves, and whose last update failed: it must survive.
    serving = {"EndpointName": "clear-serving", "ModelDataUrl": model_data(aws("s3"), "v1")}
    stacks.deploy("clear-serving", load(template), serving)
    with pytest.raises(StackError, match="failed to update"):
        stacks.deploy("clear-serving", load(template), {**serving,
                                                  "ModelDataUrl": model_data(aws("s3"), "crash")})
    assert stacks.describe("clear-serving")["Status"] == "UPDATE_ROLLBACK_COMPLETE"

    done = clear_failed_create(local_aws, "clear-prod", "clear-serving", "clear-never-made")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "clear-prod: was ROLLBACK_COMPLETE (a first create that failed, no resources); deleted",
        "clear-serving: UPDATE_ROLLBACK_COMPLETE, left as it is",
        "clear-never-made: no such stack yet; the deploy creates it"]
    assert stacks.describe("clear-prod") is None
    assert stacks.describe("clear-serving")["Status"] == "UPDATE_ROLLBACK_COMPLETE"
    assert invoke(aws, "clear-serving") == "v1:x"

    # The next run's CREATE_UPDATE deploy now creates prod.
    outputs = stacks.deploy("clear-prod", load(template), {"EndpointName": "clear-prod",
                                                     "ModelDataUrl": model_data(aws("s3"), "v1")})
    assert outputs == {}
    assert stacks.describe("clear-prod")["Status"] == "CREATE_COMPLETE"
    assert invoke(aws, "clear-prod") == "v1:x"
    # Run again on healthy stacks: nothing is deleted.
    again = clear_failed_create(local_aws, "clear-prod")
    assert again.stdout.splitlines() == ["clear-prod: CREATE_COMPLETE, left as it is"]
    assert invoke(aws, "clear-prod") == "v1:x"
    stacks.delete("clear-prod")
    stacks.delete("clear-serving")


def test_the_local_cloudformation_api_describes_as_aws_does(aws, local_aws, template):
    """DescribeStacks' errors and shape, as the script's waiter and botocore expect them."""
    cfn = aws("cloudformation")
    with pytest.raises(ClientError) as caught:
        cfn.describe_stacks(StackName="clear-no-such-stack")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["Error"]["Message"] == \
        "Stack with id clear-no-such-stack does not exist"
    cfn.delete_stack(StackName="clear-no-such-stack")  # as in AWS: nothing to do, no error
