"""The local CloudFormation deploys SageMaker stacks for real: create, update in place
(blue/green on a stable endpoint name), replacement, rollback, REPLACE_ON_FAILURE, delete."""

from __future__ import annotations

import contextlib
import io
import tarfile

import pytest
from botocore.exceptions import ClientError
from testkit import STUB_IMAGE_DIR, register_image

from sagepipe.cloudformation.providers import Context
from sagepipe.cloudformation.stacks import StackError, Stacks
from sagepipe.cloudformation.template import TemplateError, load
from sagepipe.store import Store

IMAGE_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/echo:cfn"
TEMPLATE = """
Parameters:
  StageName: {Type: String, AllowedValues: [qa, prod]}
  ModelDataUrl: {Type: String}
  InstanceCount: {Type: Number, Default: 1}
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
           InitialInstanceCount: !Ref InstanceCount, InstanceType: ml.m5.large}
  Endpoint:
    Type: AWS::SageMaker::Endpoint
    Properties:
      EndpointName: !Sub "cfn-test-${StageName}"
      EndpointConfigName: !GetAtt Config.EndpointConfigName
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {MetricName: Invocation5XXErrors, Namespace: AWS/SageMaker}
Outputs:
  EndpointName: {Value: !GetAtt Endpoint.EndpointName}
  ModelName: {Value: !GetAtt Model.ModelName}
""".replace("IMAGE_URI", IMAGE_URI)


@pytest.fixture(scope="module")
def setup(local_aws, tmp_path_factory):
    register_image(local_aws, STUB_IMAGE_DIR, IMAGE_URI)
    path = tmp_path_factory.mktemp("cfn") / "endpoint.yaml"
    path.write_text(TEMPLATE)
    return path


def model_data(aws, version: str) -> str:
    s3 = aws("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket="cfn-models")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("version.txt")
        info.size = len(version)
        tar.addfile(info, io.BytesIO(version.encode()))
    s3.put_object(Bucket="cfn-models", Key=f"{version}/model.tar.gz", Body=buffer.getvalue())
    return f"s3://cfn-models/{version}/model.tar.gz"


def invoke(aws, endpoint: str) -> str:
    reply = aws("sagemaker-runtime").invoke_endpoint(EndpointName=endpoint, Body=b"x",
                                                     ContentType="text/plain")
    return reply["Body"].read().decode()


def test_create_update_in_place_rollback_and_delete(local_aws, aws, setup):
    logs: list[str] = []
    stacks = Stacks(Store(local_aws.db_path), Context(local_aws, logs.append))
    outputs = stacks.deploy("cfn-qa", load(setup), {"StageName": "qa",
                                              "ModelDataUrl": model_data(aws, "v1")})
    assert outputs["EndpointName"] == "cfn-test-qa"
    assert invoke(aws, "cfn-test-qa") == "v1:x"
    assert any("AWS::CloudWatch::Alarm): not emulated locally" in line for line in logs)
    first_model = outputs["ModelName"]

    outputs = stacks.deploy("cfn-qa", load(setup), {"StageName": "qa",
                                              "ModelDataUrl": model_data(aws, "v2")})
    assert outputs["EndpointName"] == "cfn-test-qa"  # stable name, updated in place
    assert outputs["ModelName"] != first_model  # the model was replaced...
    assert invoke(aws, "cfn-test-qa") == "v2:x"
    with pytest.raises(ClientError):  # ...and the old one deleted in the cleanup phase
        aws("sagemaker").describe_model(ModelName=first_model)
    assert stacks.describe("cfn-qa")["Status"] == "UPDATE_COMPLETE"

    with pytest.raises(StackError, match="rolled back"):
        stacks.deploy("cfn-qa", load(setup), {"StageName": "qa",
                                        "ModelDataUrl": model_data(aws, "crash")})
    assert stacks.describe("cfn-qa")["Status"] == "UPDATE_ROLLBACK_COMPLETE"
    assert invoke(aws, "cfn-test-qa") == "v2:x"  # still serving the last good model
    models = aws("sagemaker").list_models(MaxResults=100)["Models"]
    assert [m["ModelName"] for m in models if m["ModelName"].startswith("Model-")] == [
        outputs["ModelName"]]  # the failed update's new model was removed

    stacks.delete("cfn-qa")
    assert stacks.describe("cfn-qa") is None
    with pytest.raises(ClientError, match=r"ValidationException|ResourceNotFound"):
        aws("sagemaker").describe_endpoint(EndpointName="cfn-test-qa")


def test_replace_on_failure_recreates_a_stack_that_failed_to_create(local_aws, aws, setup):
    stacks = Stacks(Store(local_aws.db_path), Context(local_aws, lambda _: None))
    with pytest.raises(StackError, match="failed to create"):
        stacks.deploy("cfn-prod", load(setup), {"StageName": "prod",
                                          "ModelDataUrl": model_data(aws, "crash")})
    assert stacks.describe("cfn-prod")["Status"] == "ROLLBACK_COMPLETE"
    with pytest.raises(StackError, match="cannot be updated"):
        stacks.deploy("cfn-prod", load(setup), {"StageName": "prod",
                                          "ModelDataUrl": model_data(aws, "v1")})
    stacks.deploy("cfn-prod", load(setup), {"StageName": "prod",
                                            "ModelDataUrl": model_data(aws, "v1")},
                  replace_on_failure=True)
    assert invoke(aws, "cfn-test-prod") == "v1:x"
    stacks.delete("cfn-prod")


@pytest.mark.parametrize("parameters, message", [
    ({"StageName": "dev", "ModelDataUrl": "s3://x/y"},
     "Parameter 'StageName' must be one of AllowedValues"),
    ({"StageName": "qa", "ModelDataUrl": "s3://x/y", "Nope": "1"},
     r"Parameters: \[Nope\] do not exist in the template"),
])
def test_bad_parameters_are_refused_before_anything_is_created(local_aws, aws, setup,
                                                                parameters, message):
    stacks = Stacks(Store(local_aws.db_path), Context(local_aws, lambda _: None))
    with pytest.raises(TemplateError, match=message):
        stacks.deploy("cfn-bad", load(setup), parameters)
    assert stacks.describe("cfn-bad") is None
