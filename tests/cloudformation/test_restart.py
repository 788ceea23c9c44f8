"""A restart of the local AWS in the middle of a stack operation: the stack ends CREATE_FAILED
with a reason (and so does the resource that was being created), what was created is kept,
and deleting the stack afterwards removes it. Runs its own local AWS, since it stops it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from stack_kit import model_data, wait
from testkit import client_for, free_port, unique

from sagepipe.clients import internal
from sagepipe.config import Settings
from sagepipe.server import start_background, stop

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

SLOW_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/slow:restart"
TEMPLATE = f"""
Parameters:
  ModelDataUrl: {{Type: String}}
Resources:
  Topic: {{Type: AWS::SNS::Topic}}
  Model:
    Type: AWS::SageMaker::Model
    DependsOn: Topic
    Properties:
      ExecutionRoleArn: arn:aws:iam::000000000000:role/sm
      PrimaryContainer: {{Image: {SLOW_URI}, ModelDataUrl: !Ref ModelDataUrl}}
  Config:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - {{VariantName: AllTraffic, ModelName: !GetAtt Model.ModelName,
           InitialInstanceCount: 1, InstanceType: ml.m5.large}}
  Endpoint:
    Type: AWS::SageMaker::Endpoint
    Properties: {{EndpointConfigName: !GetAtt Config.EndpointConfigName}}
"""


@pytest.fixture
def own_aws(tmp_path) -> Iterator[Settings]:
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    try:
        yield settings
    finally:
        stop(settings)


def test_an_interrupted_create_ends_create_failed_and_can_be_deleted(own_aws, tmp_path):
    image = tmp_path / "slow-image"
    image.mkdir()
    (image / "serve").write_text("#!/bin/sh\n# a model server that never answers /ping\n"
                                 "exec sleep 600\n")
    (image / "serve").chmod(0o755)
    internal(own_aws, "PUT", "images", {"uri": SLOW_URI, "directory": str(image)})
    cfn, name = client_for(own_aws, "cloudformation"), unique("restart")
    stack_id = cfn.create_stack(StackName=name, TemplateBody=TEMPLATE, Parameters=[{
        "ParameterKey": "ModelDataUrl",
        "ParameterValue": model_data(client_for(own_aws, "s3"), "v1")}])["StackId"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        resources = {r["LogicalResourceId"]: r["ResourceStatus"] for r in
                     cfn.describe_stack_resources(StackName=name)["StackResources"]}
        if resources.get("Endpoint") == "CREATE_IN_PROGRESS":
            break
        time.sleep(0.2)
    assert resources == {"Topic": "CREATE_COMPLETE", "Model": "CREATE_COMPLETE",
                         "Config": "CREATE_COMPLETE", "Endpoint": "CREATE_IN_PROGRESS"}

    stop(own_aws)
    start_background(own_aws)
    cfn = client_for(own_aws, "cloudformation")
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert stack["StackStatusReason"] == (
        "The local AWS stopped while the stack was CREATE_IN_PROGRESS; resources done so far "
        "are kept: update or delete the stack.")
    endpoint = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Endpoint")[
        "StackResourceDetail"]
    assert endpoint["ResourceStatus"] == "CREATE_FAILED"
    topic = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Topic")[
        "StackResourceDetail"]["PhysicalResourceId"]
    client_for(own_aws, "sns").get_topic_attributes(TopicArn=topic)  # kept

    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == \
        "DELETE_COMPLETE"
    assert client_for(own_aws, "sns").list_topics()["Topics"] == []
    assert client_for(own_aws, "sagemaker").list_models()["Models"] == []
