"""Helpers for the Step Functions service tests: definitions and bounded waits over the API."""

from __future__ import annotations

import json
import time
from typing import Any

from testkit import MODEL_IMAGE_URI, unique

ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"
SAGEMAKER_ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
SAGEMAKER = "arn:aws:states:::sagemaker:"
S3_SDK = "arn:aws:states:::aws-sdk:s3:"
RESOURCES = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}



def machine(states: dict, start: str | None = None, **top: Any) -> str:
    return json.dumps({"StartAt": start or next(iter(states)), "States": states, **top})


def passes(count: int) -> str:
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(count - 1)}
    states[f"S{count - 1}"] = {"Type": "Pass", "End": True}
    return json.dumps({"StartAt": "S0", "States": states})


WAITING = machine({"Hold": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Done"},
                   "Done": {"Type": "Pass", "Result": "done", "End": True}})


def create(sfn: Any, definition: str, name: str | None = None, **options: Any) -> str:
    return sfn.create_state_machine(name=name or unique("sm"), definition=definition,
                                    roleArn=ROLE, **options)["stateMachineArn"]


def wait_until_done(sfn: Any, execution_arn: str, timeout: float = 300) -> dict:
    """DescribeExecution once the execution has ended (a bounded wait, not a speed check)."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} still RUNNING after {timeout} s")
        time.sleep(0.2)


def wait_for_event(sfn: Any, execution_arn: str, event_type: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in history(sfn, execution_arn) if e["type"] == event_type]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event_type} in {execution_arn} after {timeout} s")
        time.sleep(0.2)


def history(sfn: Any, execution_arn: str, **options: Any) -> list[dict]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn,
                                                                **options)
    return [event for page in pages for event in page["events"]]


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def details(event: dict) -> dict:
    return next(v for k, v in event.items() if k.endswith("EventDetails"))


# -- training the example model, as the SageMaker tests and the Lambda tests do ---------------

METRICS = ("train:accuracy", "validation:accuracy", "validation:f1")


def s3_uri(suffix: str) -> dict:
    return {"S3Uri.$": f"States.Format('s3://{{}}/{suffix}', $.bucket)"}


def prepare(sfn: Any, bucket: str) -> None:
    """The Titanic CSV under `raw/` run through the model's `prepare` by an execution of a
    createProcessingJob.sync state machine: the splits under `prepared/`."""
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


def training_pipeline(notify: dict | None = None) -> str:
    """Train; a failed job is caught to a Fail state with the job's error and cause. Gate on
    the validation accuracy (then run `notify`, a state whose Next is set here, if given);
    then, in parallel, register the model and write a report; check every metric in a Map;
    succeed."""
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
            "Next": "Notify" if notify else "Publish"}]},
        **({"Notify": {**notify, "Next": "Publish"}} if notify else {}),
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
