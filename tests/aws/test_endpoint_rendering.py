"""What moto cannot deploy (see test_endpoint_stack.py), checked as CloudFormation resolves it
for each stage's deployment: the alarms, the canary update that rolls back on them, and prod's
auto scaling. Rendered offline (parameters, conditions, intrinsics) by the renderer of the
local CloudFormation; references to resources render as their logical names."""

from __future__ import annotations

from typing import Any

import pytest
from templates.templates_kit import ENDPOINT

from sagepipe.cloudformation.template import load, render

from .deploy_kit import deploy

ALARMS = {"Invocation5XXErrorsAlarm": ("invocation-5xx-errors", "Invocation5XXErrorsThreshold"),
          "ModelLatencyAlarm": ("model-latency", "ModelLatencyThresholdMicroseconds")}


def rendered(stage: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(resources as CloudFormation creates them, the parameters) for `stage`'s deployment."""
    request = deploy(stage, commit="c0ffee1")
    body = render(load(ENDPOINT), request.parameters, {}, request.stack_name)
    return body["Resources"], request.parameters


@pytest.mark.parametrize("stage", ["qa", "prod"])
def test_alarms_watch_the_stage_endpoint(stage: str):
    resources, parameters = rendered(stage)
    for logical_id, (suffix, threshold) in ALARMS.items():
        alarm = resources[logical_id]["Properties"]
        assert alarm["AlarmName"] == f"sagepipe-{stage}-{suffix}"
        assert alarm["Namespace"] == "AWS/SageMaker"
        assert alarm["Dimensions"] == [{"Name": "EndpointName", "Value": f"sagepipe-{stage}"},
                                       {"Name": "VariantName", "Value": "AllTraffic"}]
        assert str(alarm["Threshold"]) == parameters[threshold]


def test_qa_updates_all_at_once_without_scaling():
    resources, _ = rendered("qa")
    assert "DeploymentConfig" not in resources["Endpoint"]["Properties"]
    assert "DataCaptureConfig" not in resources["EndpointConfig"]["Properties"]
    assert {"ScalableTarget", "InvocationsScalingPolicy"}.isdisjoint(resources)


def test_prod_rolls_a_canary_back_on_the_alarms_and_scales():
    resources, parameters = rendered("prod")
    deployment = resources["Endpoint"]["Properties"]["DeploymentConfig"]
    routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert (routing["Type"], routing["CanarySize"]) == (
        "CANARY", {"Type": "CAPACITY_PERCENT", "Value": parameters["CanarySizePercent"]})
    assert str(routing["WaitIntervalInSeconds"]) == parameters["CanaryWaitIntervalSeconds"]
    assert deployment["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": logical_id} for logical_id in ALARMS]

    target = resources["ScalableTarget"]["Properties"]
    assert (target["ServiceNamespace"], target["ScalableDimension"]) == (
        "sagemaker", "sagemaker:variant:DesiredInstanceCount")
    assert target["ResourceId"] == "endpoint/Endpoint.EndpointName/variant/AllTraffic"
    assert (str(target["MinCapacity"]), str(target["MaxCapacity"])) == (
        parameters["AutoScalingMinCapacity"], parameters["AutoScalingMaxCapacity"])
    policy = resources["InvocationsScalingPolicy"]["Properties"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["ScalingTargetId"] == "ScalableTarget"
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert str(tracking["TargetValue"]) == parameters["TargetInvocationsPerInstance"]
