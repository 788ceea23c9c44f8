"""State machines that train the example model for real, through the served Step Functions:
prepare with createProcessingJob.sync, train with createTrainingJob.sync, branch on the job's
validation accuracy (a numeric Choice), fan out with a Parallel and a Map, end in Succeed; a
failing job caught to a Fail state with its reason; an execution stopped mid-training, whose
training job stops too."""

from __future__ import annotations

import json
import sys

import pytest
from service_kit import (
    RESOURCES,
    S3_SDK,
    SAGEMAKER,
    SAGEMAKER_ROLE,
    create,
    details,
    history,
    machine,
    types,
    unique,
    wait_for_event,
    wait_until_done,
)
from testkit import MODEL_IMAGE_URI, REPO, client_for

sys.path.insert(0, str(REPO / "CodePipeline" / "scripts"))
from default_data import export_titanic  # the pipeline's own default data

METRICS = ("train:accuracy", "validation:accuracy", "validation:f1")


def s3_uri(suffix: str) -> dict:
    return {"S3Uri.$": f"States.Format('s3://{{}}/{suffix}', $.bucket)"}


@pytest.fixture(scope="module")
def prepared(local_aws, tmp_path_factory) -> str:
    """The Titanic data run through the model's `prepare` by an execution of a
    createProcessingJob.sync state machine; the bucket holding the prepared splits."""
    sfn, s3, bucket = client_for(local_aws, "stepfunctions"), client_for(local_aws, "s3"), \
        unique("sfn-svc")
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(export_titanic(tmp_path_factory.mktemp("data") / "titanic.csv")), bucket,
                   "raw/titanic.csv")
    outputs = [{"OutputName": split, "S3Output": {
        **s3_uri(f"prepared/{split}"), "LocalPath": f"/opt/ml/processing/output/{split}",
        "S3UploadMode": "EndOfJob"}} for split in ("train", "validation", "test",
                                                   "preprocessor", "report")]
    arn = create(sfn, machine({"Prepare": {
        "Type": "Task", "Resource": SAGEMAKER + "createProcessingJob.sync", "End": True,
        "Parameters": {
            "ProcessingJobName.$": "$.name", "RoleArn": SAGEMAKER_ROLE,
            "AppSpecification": {"ImageUri": MODEL_IMAGE_URI, "ContainerEntrypoint": ["prepare"]},
            "ProcessingResources": {"ClusterConfig": RESOURCES},
            "ProcessingInputs": [{"InputName": "raw", "S3Input": {
                **s3_uri("raw/"), "LocalPath": "/opt/ml/processing/input/raw",
                "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
            "ProcessingOutputConfig": {"Outputs": outputs}},
        "ResultSelector": {"status.$": "$.ProcessingJobStatus"}}}))
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(
        {"name": unique("prepare"), "bucket": bucket}))["executionArn"]
    described = wait_until_done(sfn, execution)
    assert json.loads(described.get("output", "null")) == {"status": "Completed"}, described
    return bucket


def train_and_publish() -> str:
    """Train; a failed job is caught to a Fail state with the job's error and cause. Gate on
    the validation accuracy; then, in parallel, register the model and write a report; check
    every metric in a Map; succeed."""
    channels = [{"ChannelName": name, "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", **s3_uri(f"prepared/{name}")}}}
        for name in ("train", "validation", "preprocessor")]
    check_metric = {"StartAt": "InRange", "States": {
        "InRange": {"Type": "Choice", "Default": "OutOfRange", "Choices": [{"And": [
            {"Variable": "$.Value", "NumericGreaterThanEquals": 0},
            {"Variable": "$.Value", "NumericLessThanEquals": 1}], "Next": "Fine"}]},
        "Fine": {"Type": "Pass", "Parameters": {"metric.$": "$.MetricName", "ok": True},
                 "End": True},
        "OutOfRange": {"Type": "Fail", "Error": "MetricOutOfRange"}}}
    return machine({
        "Train": {
            "Type": "Task", "Resource": SAGEMAKER + "createTrainingJob.sync", "Next": "Gate",
            "Parameters": {
                "TrainingJobName.$": "$.name", "RoleArn": SAGEMAKER_ROLE,
                "HyperParameters.$": "$.hyperparameters",
                "AlgorithmSpecification": {
                    "TrainingImage": MODEL_IMAGE_URI, "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": metric, "Regex": f"{metric}=([0-9.]+);"}
                                          for metric in METRICS]},
                "InputDataConfig": channels,
                "OutputDataConfig": {"S3OutputPath.$": "States.Format('s3://{}/models', "
                                                       "$.bucket)"},
                "ResourceConfig": RESOURCES, "StoppingCondition": {"MaxRuntimeInSeconds": 600}},
            "ResultSelector": {
                "name.$": "$.TrainingJobName", "model.$": "$.ModelArtifacts.S3ModelArtifacts",
                "metrics.$": "$.FinalMetricDataList",
                "accuracy.$": "$.FinalMetricDataList[?(@.MetricName == "
                              "'validation:accuracy')].Value"},
            "ResultPath": "$.training",
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error",
                       "Next": "TrainingFailed"}]},
        "Gate": {"Type": "Choice", "Default": "TooWeak", "Choices": [{
            "Variable": "$['training']['accuracy'][0]", "NumericGreaterThanEquals": 0.6,
            "Next": "Publish"}]},
        "Publish": {"Type": "Parallel", "Next": "CheckMetrics", "ResultPath": "$.published",
                    "Branches": [
            {"StartAt": "Register", "States": {"Register": {
                "Type": "Task", "Resource": SAGEMAKER + "createModel", "End": True,
                "Parameters": {"ModelName.$": "$.training.name",
                               "ExecutionRoleArn": SAGEMAKER_ROLE,
                               "PrimaryContainer": {"Image": MODEL_IMAGE_URI,
                                                    "ModelDataUrl.$": "$.training.model"}}}}},
            {"StartAt": "Report", "States": {"Report": {
                "Type": "Task", "Resource": S3_SDK + "putObject", "End": True,
                "Parameters": {"Bucket.$": "$.bucket",
                               "Key.$": "States.Format('reports/{}.json', $.training.name)",
                               "Body.$": "States.JsonToString($.training.accuracy)"}}}}]},
        "CheckMetrics": {"Type": "Map", "ItemsPath": "$.training.metrics", "Next": "Done",
                         "ResultPath": "$.checked", "ItemProcessor": check_metric},
        "TooWeak": {"Type": "Fail", "Error": "ModelTooWeak"},
        "TrainingFailed": {"Type": "Fail", "ErrorPath": "$.error.Error",
                           "CausePath": "$.error.Cause"},
        "Done": {"Type": "Succeed"},
    })


@pytest.fixture(scope="module")
def pipeline(local_aws) -> str:
    return create(client_for(local_aws, "stepfunctions"), train_and_publish())


def start(sfn, pipeline: str, bucket: str, **hyperparameters: str) -> tuple[str, str]:
    name = unique("train")
    execution = sfn.start_execution(stateMachineArn=pipeline, input=json.dumps({
        "name": name, "bucket": bucket, "hyperparameters": hyperparameters}))["executionArn"]
    return execution, name


def test_trains_branches_on_the_metric_fans_out_and_succeeds(sfn, aws, prepared, pipeline):
    execution, name = start(sfn, pipeline, prepared, n_estimators="50", max_depth="6",
                            random_state="7")
    described = wait_until_done(sfn, execution)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["training"]["name"] == name and 0.6 <= output["training"]["accuracy"][0] <= 1
    model = aws("sagemaker").describe_model(ModelName=name)
    assert output["published"][0] == {"ModelArn": model["ModelArn"]}
    report = aws("s3").get_object(Bucket=prepared, Key=f"reports/{name}.json")
    assert json.loads(report["Body"].read()) == output["training"]["accuracy"]
    metrics = [m["MetricName"] for m in output["training"]["metrics"]]
    assert output["checked"] == [{"metric": m, "ok": True} for m in metrics]
    events = history(sfn, execution)
    kinds = types(events)
    assert sorted(metrics) == sorted(METRICS)
    assert kinds.count("MapIterationSucceeded") == len(METRICS)
    assert {"ChoiceStateEntered", "ParallelStateStarted", "ParallelStateSucceeded",
            "TaskSubmitted", "SucceedStateEntered"} <= set(kinds)
    trained = next(e for e in events if e["type"] == "TaskSucceeded")
    assert details(trained)["resource"] == "createTrainingJob.sync"
    assert json.loads(details(trained)["output"])["TrainingJobStatus"] == "Completed"


def test_a_failed_training_job_is_caught_to_a_fail_state_with_its_reason(sfn, prepared,
                                                                         pipeline):
    execution, name = start(sfn, pipeline, prepared, n_estimators="many")
    described = wait_until_done(sfn, execution)
    assert (described["status"], described["error"]) == ("FAILED", "States.TaskFailed")
    job = json.loads(described["cause"])
    assert (job["TrainingJobName"], job["TrainingJobStatus"]) == (name, "Failed")
    assert job["FailureReason"].startswith("hyperparameter n_estimators='many'")
    assert types(history(sfn, execution))[-3:] == ["TaskStateExited", "FailStateEntered",
                                                   "ExecutionFailed"]


def test_stopping_the_execution_stops_its_training_job(sfn, aws, prepared, pipeline):
    execution, name = start(sfn, pipeline, prepared, n_estimators="5000")
    wait_for_event(sfn, execution, "TaskSubmitted")
    sfn.stop_execution(executionArn=execution, error="Operator.Stop", cause="changed my mind")
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["cause"]) == ("ABORTED", "changed my mind")
    assert types(history(sfn, execution))[-2:] == ["TaskStateAborted", "ExecutionAborted"]
    sagemaker = aws("sagemaker")
    waiter = sagemaker.get_waiter("training_job_completed_or_stopped")
    waiter.wait(TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == \
        "Stopped"
