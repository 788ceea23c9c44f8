"""CloudFormation/endpoint.yaml deployed by moto's CloudFormation as the pipeline deploys it:
create, update and delete of the QA and prod stacks, and the SageMaker resources they leave.

What moto 5.2.5 cannot do, and so what is not asserted here:
- AWS::CloudWatch::Alarm and AWS::ApplicationAutoScaling::ScalableTarget / ScalingPolicy have
  no CloudFormation support in moto: it skips them (the alarms, the canary rollback on them
  and the prod auto scaling are checked as rendered, test_endpoint_rendering.py);
- the Endpoint's DeploymentConfig and the Model's EnableNetworkIsolation are dropped;
- on update, moto replaces the Model but neither re-creates the EndpointConfig that names it
  nor points the Endpoint at a re-created EndpointConfig, so only the model swap is asserted
  (the blue/green update behind the stable name is tests/cloudformation/test_stacks.py's);
- moto ignores AWS::SageMaker::Endpoint's EndpointName (it generates a name, as for a
  resource without a name property): `honour_endpoint_name` gives moto the name property
  CloudFormation documents, so that the stable name the template sets is what is checked.
"""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sagemaker.models import FakeEndpoint

from .deploy_kit import ACCOUNT, REGION, Deploy, deploy

SAGEMAKER_RESOURCES = {"Model": "AWS::SageMaker::Model",
                       "EndpointConfig": "AWS::SageMaker::EndpointConfig",
                       "Endpoint": "AWS::SageMaker::Endpoint"}
MOTO_SKIPS = {"AWS::CloudWatch::Alarm"}
# Prod only: its configuration enables auto scaling.
MOTO_SKIPS_PROD = {"AWS::ApplicationAutoScaling::ScalableTarget",
                   "AWS::ApplicationAutoScaling::ScalingPolicy"}
UNSUPPORTED = "Tried to parse (\\S+) but it's not supported by moto"

pytestmark = pytest.mark.filterwarnings(f"ignore:{UNSUPPORTED}:UserWarning")


@pytest.fixture
def honour_endpoint_name(monkeypatch):
    monkeypatch.setattr(FakeEndpoint, "cloudformation_name_type",
                        staticmethod(lambda: "EndpointName"))


@pytest.fixture
def in_moto(honour_endpoint_name):
    """`in_moto(service)` -> a boto3 client of a fresh moto AWS."""
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def outputs(cfn, stack_name: str) -> dict[str, str]:
    (stack,) = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def status(cfn, stack_name: str) -> str:
    return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]


@pytest.mark.parametrize("stage", ["qa", "prod"])
def test_create_makes_the_configured_endpoint(in_moto, stage: str):
    request = deploy(stage, commit="c0ffee1")
    cfn, sm = in_moto("cloudformation"), in_moto("sagemaker")
    with pytest.warns(UserWarning, match=UNSUPPORTED) as skipped:
        cfn.create_stack(**request.create_stack_request())
    assert {re.match(UNSUPPORTED, str(w.message))[1] for w in skipped} == (
        MOTO_SKIPS | (MOTO_SKIPS_PROD if stage == "prod" else set()))
    assert status(cfn, request.stack_name) == "CREATE_COMPLETE"
    created = {r["LogicalResourceId"]: (r["ResourceType"], r["ResourceStatus"])
               for r in cfn.list_stack_resources(StackName=request.stack_name)[
                   "StackResourceSummaries"] if r["LogicalResourceId"]}
    assert created == {name: (kind, "CREATE_COMPLETE")
                       for name, kind in SAGEMAKER_RESOURCES.items()}

    out = outputs(cfn, request.stack_name)
    params = request.parameters
    name = f"sagepipe-{stage}"
    assert out["EndpointName"] == name
    assert out["EndpointArn"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{name}"
    endpoint = sm.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == out["EndpointConfigName"]
    (variant,) = endpoint["ProductionVariants"]
    assert (variant["VariantName"], variant["CurrentInstanceCount"]) == (
        "AllTraffic", int(params["InstanceCount"]))

    config = sm.describe_endpoint_config(EndpointConfigName=out["EndpointConfigName"])
    assert config["ProductionVariants"] == [{
        "VariantName": "AllTraffic", "ModelName": out["ModelName"],
        "InstanceType": params["InstanceType"],
        "InitialInstanceCount": int(params["InstanceCount"]), "InitialVariantWeight": 1.0}]
    model = sm.describe_model(ModelName=out["ModelName"])
    assert model["PrimaryContainer"] == {"Image": params["ImageUri"],
                                         "ModelDataUrl": params["ModelDataUrl"]}
    assert model["ExecutionRoleArn"] == params["ExecutionRoleArn"]
    assert_data_capture(stage, request, config.get("DataCaptureConfig"))


def assert_data_capture(stage: str, request: Deploy, capture: dict | None) -> None:
    """Prod captures every request and response to its prefix; QA captures nothing."""
    if stage == "qa":
        assert not capture
        return
    assert capture == {
        "EnableCapture": True, "InitialSamplingPercentage": 100,
        "DestinationS3Uri": request.parameters["DataCaptureS3Uri"],
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"],
                                     "JsonContentTypes": ["application/json"]}}
    assert capture["DestinationS3Uri"].endswith("/sagepipe/data-capture/prod")


@pytest.mark.parametrize("stage", ["qa", "prod"])
def test_a_new_model_keeps_the_endpoint_name(in_moto, stage: str):
    cfn, sm = in_moto("cloudformation"), in_moto("sagemaker")
    first = deploy(stage, commit="c0ffee1")
    cfn.create_stack(**first.create_stack_request())
    before = outputs(cfn, first.stack_name)

    second = deploy(stage, commit="beef002")
    cfn.update_stack(**second.create_stack_request())
    after = outputs(cfn, second.stack_name)
    assert status(cfn, second.stack_name) == "UPDATE_COMPLETE"
    assert (after["EndpointName"], after["EndpointArn"]) == (before["EndpointName"],
                                                             before["EndpointArn"])
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == [f"sagepipe-{stage}"]
    assert after["ModelName"] != before["ModelName"]
    model = sm.describe_model(ModelName=after["ModelName"])
    assert model["PrimaryContainer"] == {"Image": second.parameters["ImageUri"],
                                         "ModelDataUrl": second.parameters["ModelDataUrl"]}
    assert second.parameters["ModelDataUrl"] != first.parameters["ModelDataUrl"]
    with pytest.raises(ClientError, match="Could not find model"):
        sm.describe_model(ModelName=before["ModelName"])


@pytest.mark.parametrize("stage", ["qa", "prod"])
def test_delete_removes_every_sagemaker_resource(in_moto, stage: str):
    cfn, sm = in_moto("cloudformation"), in_moto("sagemaker")
    request = deploy(stage, commit="c0ffee1")
    cfn.create_stack(**request.create_stack_request())
    cfn.delete_stack(StackName=request.stack_name)
    with pytest.raises(ClientError, match="does not exist"):
        cfn.describe_stacks(StackName=request.stack_name)
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []


def test_qa_and_prod_stacks_live_side_by_side(in_moto):
    cfn, sm = in_moto("cloudformation"), in_moto("sagemaker")
    for stage in ("qa", "prod"):
        cfn.create_stack(**deploy(stage, commit="c0ffee1").create_stack_request())
    assert sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]) == [
        "sagepipe-prod", "sagepipe-qa"]
    cfn.delete_stack(StackName=deploy("qa", commit="c0ffee1").stack_name)  # TeardownQA
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == ["sagepipe-prod"]
