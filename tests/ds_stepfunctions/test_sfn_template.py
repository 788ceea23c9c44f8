"""TrainingPipeline: one state machine whose requests all come from the execution input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sfn_kit import SFN_ROLE, XGB, xgb_request

from ds_stepfunctions.template import TrainingPipeline

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:abalone-pipeline"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_training_pipeline_definition_and_execution(sfn):
    client, stub = sfn
    pipeline = TrainingPipeline(xgb_request(), SFN_ROLE, inputs="s3://b/train", s3_bucket="b",
                                client=client, pipeline_name="abalone-pipeline")
    states = pipeline.workflow.definition.to_dict()["States"]
    assert list(states) == ["Training", "Create Model", "Configure Endpoint", "Deploy"]
    assert states["Training"]["Parameters"]["RoleArn.$"] == (
        "$$.Execution.Input['Training']['RoleArn']")
    assert all(key.endswith(".$") for s in states.values() for key in s["Parameters"])

    definition = json.dumps(pipeline.workflow.definition.to_dict(), indent=4)
    stub.add_response("create_state_machine", {"stateMachineArn": ARN, "creationDate": NOW},
                      {"name": "abalone-pipeline", "definition": definition,
                       "roleArn": SFN_ROLE, "tags": []})
    assert pipeline.create() == ARN

    expected_input = {
        "Training": {**xgb_request(),
                     "OutputDataConfig": {"S3OutputPath": "s3://b/abalone-pipeline/models"},
                     "InputDataConfig": [{"DataSource": {"S3DataSource": {
                         "S3DataType": "S3Prefix", "S3Uri": "s3://b/train",
                         "S3DataDistributionType": "FullyReplicated"}},
                         "ChannelName": "training"}],
                     "TrainingJobName": "estimator-run-1",
                     "HyperParameters": {"eta": "0.3"}},
        "Create Model": {"ExecutionRoleArn": xgb_request()["RoleArn"],
                         "PrimaryContainer": {
                             "Environment": {}, "Image": XGB,
                             "ModelDataUrl": "s3://b/abalone-pipeline/models/estimator-run-1/"
                                             "output/model.tar.gz"},
                         "ModelName": "run-1"},
        "Configure Endpoint": {"EndpointConfigName": "run-1", "ProductionVariants": [{
            "InitialInstanceCount": 1, "InstanceType": "ml.m5.large", "ModelName": "run-1",
            "VariantName": "AllTraffic"}]},
        "Deploy": {"EndpointConfigName": "run-1", "EndpointName": "run-1"},
    }
    stub.add_response("start_execution", {"executionArn": f"{ARN}:run-1", "startDate": NOW},
                      {"stateMachineArn": ARN, "name": "run-1",
                       "input": json.dumps(expected_input, indent=4)})
    execution = pipeline.execute(job_name="run-1", hyperparameters={"eta": 0.3})
    assert execution.execution_arn == f"{ARN}:run-1"
    assert "Training" in pipeline.render_graph().to_mermaid()
