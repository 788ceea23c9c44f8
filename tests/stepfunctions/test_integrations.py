"""The service integrations against the real local AWS: SageMaker `.sync` jobs that really
run the example model (processing, training, a failing training job, a stopped one), the
request-response createModel, and aws-sdk calls to the local S3."""

from __future__ import annotations

import json
import sys

import pytest
from asl_kit import details, info, machine, types, wait_for
from botocore.exceptions import EndpointConnectionError
from testkit import MODEL_IMAGE_URI, REPO, unique

from sagepipe.stepfunctions.asl import Execution, Outcome, parse_definition
from sagepipe.stepfunctions.integrations import AwsIntegrations, local_clients, unsupported_reason

sys.path.insert(0, str(REPO / "CodePipeline" / "scripts"))
from default_data import export_titanic  # the pipeline's own default data

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
SAGEMAKER = "arn:aws:states:::sagemaker:"
RESOURCES = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}



def s3_uri(suffix: str) -> dict:
    return {"S3Uri.$": f"States.Format('s3://{{}}/{suffix}', $.bucket)"}


def execute(definition: dict, execution_input: dict, runner: AwsIntegrations,
            ) -> tuple[Outcome, list[dict]]:
    events: list[dict] = []
    execution = Execution(parse_definition(json.dumps(definition), unsupported_reason),
                          execution_input, info(unique("run")), runner, events.append)
    return execution.run(), events


@pytest.fixture(scope="module")
def runner(local_aws) -> AwsIntegrations:
    return AwsIntegrations(local_clients(local_aws), poll_seconds=0.2)


@pytest.fixture(scope="module")
def prepared(runner, tmp_path_factory) -> str:
    """The Titanic data uploaded and run through the model's `prepare` by a
    createProcessingJob.sync task; the bucket holding the prepared splits."""
    s3, bucket = runner._client("s3"), unique("sfn")
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(export_titanic(tmp_path_factory.mktemp("data") / "titanic.csv")), bucket,
                   "raw/titanic.csv")
    outputs = [{"OutputName": split, "S3Output": {
        **s3_uri(f"prepared/{split}"), "LocalPath": f"/opt/ml/processing/output/{split}",
        "S3UploadMode": "EndOfJob"}} for split in ("train", "validation", "test",
                                                   "preprocessor", "report")]
    definition = machine({"Prepare": {
        "Type": "Task", "Resource": SAGEMAKER + "createProcessingJob.sync", "End": True,
        "Parameters": {
            "ProcessingJobName.$": "$.name", "RoleArn": ROLE,
            "AppSpecification": {"ImageUri": MODEL_IMAGE_URI, "ContainerEntrypoint": ["prepare"]},
            "ProcessingResources": {"ClusterConfig": RESOURCES},
            "ProcessingInputs": [{"InputName": "raw", "S3Input": {
                **s3_uri("raw/"), "LocalPath": "/opt/ml/processing/input/raw",
                "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
            "ProcessingOutputConfig": {"Outputs": outputs}},
        "ResultSelector": {"status.$": "$.ProcessingJobStatus"}}})
    outcome, events = execute(definition, {"name": unique("prepare"), "bucket": bucket}, runner)
    assert outcome.output == {"status": "Completed"}, outcome
    submitted = next(e for e in events if e["type"] == "TaskSubmitted")
    assert "ProcessingJobArn" in details(submitted)["output"]
    return bucket


def train_and_register() -> dict:
    """Train, branch on the job's validation accuracy, register the model; a failed job is
    caught to a Fail state that reports the job's error and cause."""
    channels = [{"ChannelName": name, "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", **s3_uri(f"prepared/{name}")}}}
        for name in ("train", "validation", "preprocessor")]
    return machine({
        "Train": {
            "Type": "Task", "Resource": SAGEMAKER + "createTrainingJob.sync", "Next": "Gate",
            "Parameters": {
                "TrainingJobName.$": "$.name", "RoleArn": ROLE,
                "HyperParameters.$": "$.hyperparameters",
                "AlgorithmSpecification": {
                    "TrainingImage": MODEL_IMAGE_URI, "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "validation:accuracy",
                                           "Regex": "validation:accuracy=([0-9.]+);"}]},
                "InputDataConfig": channels,
                "OutputDataConfig": {"S3OutputPath.$": "States.Format('s3://{}/models', "
                                                       "$.bucket)"},
                "ResourceConfig": RESOURCES, "StoppingCondition": {"MaxRuntimeInSeconds": 600}},
            "ResultSelector": {
                "name.$": "$.TrainingJobName", "model.$": "$.ModelArtifacts.S3ModelArtifacts",
                "accuracy.$": "$.FinalMetricDataList[?(@.MetricName == "
                              "'validation:accuracy')].Value"},
            "ResultPath": "$.training",
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error",
                       "Next": "TrainingFailed"}]},
        "Gate": {"Type": "Choice", "Default": "TooWeak", "Choices": [{
            "Variable": "$['training']['accuracy'][0]", "NumericGreaterThanEquals": 0.6,
            "Next": "Register"}]},
        "Register": {
            "Type": "Task", "Resource": SAGEMAKER + "createModel", "Next": "Configure",
            "Parameters": {"ModelName.$": "$.training.name", "ExecutionRoleArn": ROLE,
                           "PrimaryContainer": {"Image": MODEL_IMAGE_URI,
                                                "ModelDataUrl.$": "$.training.model"}},
            "ResultPath": "$.model"},
        "Configure": {
            "Type": "Task", "Resource": SAGEMAKER + "createEndpointConfig", "Next": "Done",
            "Parameters": {"EndpointConfigName.$": "$.training.name", "ProductionVariants": [{
                "VariantName": "AllTraffic", "ModelName.$": "$.training.name",
                "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]},
            "ResultPath": "$.config"},
        "TooWeak": {"Type": "Fail", "Error": "ModelTooWeak"},
        "TrainingFailed": {"Type": "Fail", "ErrorPath": "$.error.Error",
                           "CausePath": "$.error.Cause"},
        "Done": {"Type": "Succeed"},
    })


def test_trains_branches_on_the_metric_and_registers_the_model(runner, prepared):
    name = unique("train")
    outcome, events = execute(train_and_register(), {
        "name": name, "bucket": prepared,
        "hyperparameters": {"n_estimators": "50", "max_depth": "6", "random_state": "7"}},
        runner)
    assert outcome.status == "SUCCEEDED", outcome
    training = outcome.output["training"]
    assert training["name"] == name and 0.6 <= training["accuracy"][0] <= 1
    assert training["model"].endswith(f"{name}/output/model.tar.gz")
    model = runner._client("sagemaker").describe_model(ModelName=name)
    assert outcome.output["model"] == {"ModelArn": model["ModelArn"]}
    config = runner._client("sagemaker").describe_endpoint_config(EndpointConfigName=name)
    assert outcome.output["config"] == {"EndpointConfigArn": config["EndpointConfigArn"]}
    succeeded = next(e for e in events if e["type"] == "TaskSucceeded")
    described = json.loads(details(succeeded)["output"])
    assert described["TrainingJobStatus"] == "Completed"
    assert isinstance(described["CreationTime"], int)  # epoch milliseconds, as AWS passes it


def test_a_failed_training_job_fails_the_task_with_its_reason(runner, prepared):
    name = unique("bad")
    outcome, events = execute(train_and_register(), {
        "name": name, "bucket": prepared, "hyperparameters": {"n_estimators": "many"}}, runner)
    assert (outcome.status, outcome.error) == ("FAILED", "States.TaskFailed")
    job = json.loads(outcome.cause)
    assert (job["TrainingJobName"], job["TrainingJobStatus"]) == (name, "Failed")
    assert job["FailureReason"].startswith("hyperparameter n_estimators='many'")
    assert types(events)[-3:] == ["TaskStateExited", "FailStateEntered", "ExecutionFailed"]


def test_stopping_the_execution_stops_the_training_job(runner, prepared):
    name, events = unique("stopped"), []
    execution = Execution(parse_definition(json.dumps(train_and_register())), {
        "name": name, "bucket": prepared, "hyperparameters": {"n_estimators": "5000"}},
        info(unique("run")), runner, events.append)
    execution.start()
    wait_for(lambda: "TaskSubmitted" in types(events), "the training job to be created", 60)
    execution.stop("User.Stop", "stopped by the test")
    assert execution.wait(60).status == "ABORTED"
    sagemaker = runner._client("sagemaker")
    wait_for(lambda: sagemaker.describe_training_job(TrainingJobName=name)[
        "TrainingJobStatus"] == "Stopped", "the training job to stop", 60)
    assert types(events)[-2:] == ["TaskStateAborted", "ExecutionAborted"]


def test_a_service_error_keeps_the_name_aws_gives_it(runner):
    definition = machine({"Bad": {"Type": "Task", "Resource": SAGEMAKER + "createModel",
                                  "Parameters": {"ModelName": "no-container"}, "End": True}})
    outcome, _ = execute(definition, {}, runner)
    assert outcome.error == "SageMaker.AmazonSageMakerException", outcome
    assert "Status Code: 400" in outcome.cause


def test_aws_sdk_calls_reach_the_service_and_name_its_errors(runner, prepared):
    sdk = "arn:aws:states:::aws-sdk:s3:"
    definition = machine({
        "Put": {"Type": "Task", "Resource": sdk + "putObject", "ResultPath": None,
                "Parameters": {"Bucket.$": "$.bucket", "Key": "note.txt", "Body": "hello"},
                "Next": "Get"},
        "Get": {"Type": "Task", "Resource": sdk + "getObject", "ResultPath": "$.got",
                "ResultSelector": {"body.$": "$.Body", "modified.$": "$.LastModified"},
                "Parameters": {"Bucket.$": "$.bucket", "Key": "note.txt"}, "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": sdk + "getObject", "End": True,
                    "Parameters": {"Bucket.$": "$.bucket", "Key": "absent.txt"},
                    "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "Next": "Caught",
                               "ResultPath": "$.error"}]},
        "Caught": {"Type": "Succeed"}})
    outcome, _ = execute(definition, {"bucket": prepared}, runner)
    assert outcome.status == "SUCCEEDED", outcome
    assert outcome.output["got"]["body"] == "hello"
    assert outcome.output["got"]["modified"].endswith("Z")  # aws-sdk passes ISO 8601
    assert outcome.output["error"]["Error"] == "S3.NoSuchKeyException"
    assert "Status Code: 404" in outcome.output["error"]["Cause"]


def test_a_sync_task_keeps_polling_when_the_local_aws_does_not_answer(runner, prepared):
    """A Describe* that cannot connect (the local AWS stopping, or busy) says nothing about
    the job: the task polls again instead of failing."""
    sagemaker, refused = runner._client("sagemaker"), []

    def refuse(**_: object) -> None:  # more often than the client's own retries absorb
        if len(refused) < 6:
            refused.append(1)
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    event = "before-send.sagemaker.DescribeTrainingJob"
    sagemaker.meta.events.register(event, refuse)
    try:
        outcome, events = execute(train_and_register(), {
            "name": unique("patient"), "bucket": prepared,
            "hyperparameters": {"n_estimators": "10"}}, runner)
    finally:
        sagemaker.meta.events.unregister(event, refuse)
    assert len(refused) == 6
    trained = next((e for e in events if e["type"] == "TaskSucceeded"), None)
    assert trained is not None, outcome
    assert json.loads(details(trained)["output"])["TrainingJobStatus"] == "Completed"
