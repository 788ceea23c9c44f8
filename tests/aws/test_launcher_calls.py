"""The training launcher's calls to AWS, parameter for parameter (botocore validates them
against the SageMaker API model before the Stubber compares them), with the answers SageMaker
gives: success, a failed processing job, a failed training job. The data upload goes to
moto's S3, where the uploaded object is read back.

The launcher's clock is a stand-in (job names carry a timestamp, the polling sleeps): it starts
at a fixed instant and only moves when the launcher sleeps, which also shows the back-off.
"""

from __future__ import annotations

import importlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from .deploy_kit import ACCOUNT, BUCKET, REGION, REPO

SCRIPTS = REPO / "CodePipeline" / "scripts"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sagepipe-model:c0ffee1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagepipe-sagemaker-role"
BASE = f"s3://{BUCKET}/sagepipe/c0ffee1"
START = datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
PREP_JOB = "sagepipe-prep-20260101-000000-250"
TRAIN_JOB = "sagepipe-train-20260101-000001-250"  # one second of polling later
SPLITS = ("train", "validation", "test", "preprocessor", "report")
PREP_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{PREP_JOB}"
TRAIN_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{TRAIN_JOB}"


class Clock:
    """The launcher's `time`: a fixed start that only sleeping moves on."""

    def __init__(self, start: datetime) -> None:
        self.now, self.sleeps = start.timestamp(), []

    def time(self) -> float:
        return self.now

    def gmtime(self) -> time.struct_time:
        return time.gmtime(self.now)

    def strftime(self, layout: str, moment: time.struct_time) -> str:
        return time.strftime(layout, moment)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def launcher(monkeypatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(SCRIPTS))
    return importlib.import_module("launch_training")


@pytest.fixture
def boundary(launcher, monkeypatch):
    """moto's S3 with the artifact bucket, and a stubbed SageMaker, as the launcher's boto3."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        clients = {"s3": s3, "sagemaker": sagemaker}
        monkeypatch.setattr(launcher, "boto3", SimpleNamespace(client=clients.__getitem__))
        clock = Clock(START)
        monkeypatch.setattr(launcher, "time", clock)
        with Stubber(sagemaker) as stubber:
            yield SimpleNamespace(s3=s3, sagemaker=stubber, clock=clock)
            stubber.assert_no_pending_responses()


def run(launcher: ModuleType, tmp_path: Path) -> tuple[int, Path]:
    output = tmp_path / "training.json"
    code = launcher.main([
        "--image-uri", IMAGE, "--role-arn", ROLE, "--bucket", BUCKET,
        "--prefix", "sagepipe/c0ffee1", "--job-prefix", "sagepipe",
        "--hyperparameters", str(REPO / "model" / "hyperparameters.json"),
        "--hyperparameter", "max_depth=4", "--output", str(output)])
    return code, output


# ------------------------------------------------------------------ what the launcher must send
CREATE_PROCESSING_JOB = {
    "ProcessingJobName": PREP_JOB,
    "RoleArn": ROLE,
    "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["prepare"]},
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                              "VolumeSizeInGB": 10}},
    "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
    "ProcessingInputs": [{"InputName": "raw", "S3Input": {
        "S3Uri": f"{BASE}/data/raw", "LocalPath": "/opt/ml/processing/input/raw",
        "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
    "ProcessingOutputConfig": {"Outputs": [
        {"OutputName": split, "S3Output": {
            "S3Uri": f"{BASE}/data/prepared/{split}",
            "LocalPath": f"/opt/ml/processing/output/{split}", "S3UploadMode": "EndOfJob"}}
        for split in SPLITS]},
}


def channel(name: str, content_type: str) -> dict:
    return {"ChannelName": name, "ContentType": content_type,
            "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"{BASE}/data/prepared/{name}",
                "S3DataDistributionType": "FullyReplicated"}}}


CREATE_TRAINING_JOB = {
    "TrainingJobName": TRAIN_JOB,
    "RoleArn": ROLE,
    "AlgorithmSpecification": {
        "TrainingImage": IMAGE, "TrainingInputMode": "File",
        "MetricDefinitions": [
            {"Name": "train:accuracy", "Regex": r"train:accuracy=([0-9.]+);"},
            {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+);"},
            {"Name": "validation:f1", "Regex": r"validation:f1=([0-9.]+);"},
            {"Name": "validation:auc", "Regex": r"validation:auc=([0-9.]+);"}]},
    # model/hyperparameters.json, max_depth overridden on the command line.
    "HyperParameters": {"n_estimators": "100", "max_depth": "4", "min_samples_leaf": "2",
                        "random_state": "42"},
    "InputDataConfig": [channel("train", "text/csv"), channel("validation", "text/csv"),
                        channel("preprocessor", "application/json")],
    "OutputDataConfig": {"S3OutputPath": f"{BASE}/models"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}
MODEL_DATA = f"{BASE}/models/{TRAIN_JOB}/output/model.tar.gz"


# ------------------------------------------------------------------ what SageMaker answers
def processing_job(status: str, **extra) -> dict:
    return {"ProcessingJobName": PREP_JOB, "ProcessingJobStatus": status,
            "ProcessingJobArn": PREP_ARN,
            "ProcessingResources": CREATE_PROCESSING_JOB["ProcessingResources"],
            "AppSpecification": CREATE_PROCESSING_JOB["AppSpecification"],
            "CreationTime": START, **extra}


def training_job(status: str, secondary: str, **extra) -> dict:
    return {"TrainingJobName": TRAIN_JOB, "TrainingJobStatus": status,
            "SecondaryStatus": secondary,
            "TrainingJobArn": TRAIN_ARN,
            "ModelArtifacts": {"S3ModelArtifacts": MODEL_DATA},
            "StoppingCondition": CREATE_TRAINING_JOB["StoppingCondition"],
            "CreationTime": START, **extra}


def expect_processing(stubber: Stubber, *outcome: dict) -> None:
    stubber.add_response("create_processing_job", {"ProcessingJobArn": PREP_ARN},
                         CREATE_PROCESSING_JOB)
    for answer in outcome:
        stubber.add_response("describe_processing_job", answer, {"ProcessingJobName": PREP_JOB})


def expect_training(stubber: Stubber, *outcome: dict) -> None:
    stubber.add_response("create_training_job", {"TrainingJobArn": TRAIN_ARN},
                         CREATE_TRAINING_JOB)
    for answer in outcome:
        stubber.add_response("describe_training_job", answer, {"TrainingJobName": TRAIN_JOB})


def test_prepares_trains_and_reports_the_model(launcher, boundary, tmp_path, capsys):
    expect_processing(boundary.sagemaker, processing_job("InProgress"), processing_job("Completed"))
    metrics = [{"MetricName": "validation:accuracy", "Value": 0.81, "Timestamp": START}]
    expect_training(boundary.sagemaker, training_job("InProgress", "Starting"),
                    training_job("InProgress", "Training"),
                    training_job("Completed", "Completed", FinalMetricDataList=metrics))

    code, output = run(launcher, tmp_path)

    assert code == 0
    assert json.loads(output.read_text()) == {
        "ModelDataUrl": MODEL_DATA, "TrainingJobName": TRAIN_JOB,
        "Metrics": {"validation:accuracy": 0.81},
        "TestDataUri": f"{BASE}/data/prepared/test",
        "DataValidationReportUri": f"{BASE}/data/prepared/report"}
    # The default data, exported from the bokeh-sampledata wheel, is what was uploaded.
    uploaded = boundary.s3.get_object(Bucket=BUCKET, Key="sagepipe/c0ffee1/data/raw/titanic.csv")
    expected = launcher.export_titanic(tmp_path / "expected.csv").read_bytes()
    assert uploaded["Body"].read() == expected
    assert expected.startswith(b"Survived,Pclass,Sex,Age\r\n")
    # One status line per change; polling backs off from 1 s, afresh for each job.
    assert boundary.clock.sleeps == [1.0, 1.0, 1.5]
    assert capsys.readouterr().out.splitlines()[:5] == [
        f"processing job {PREP_JOB}: InProgress", f"processing job {PREP_JOB}: Completed",
        f"training job {TRAIN_JOB}: InProgress / Starting",
        f"training job {TRAIN_JOB}: InProgress / Training",
        f"training job {TRAIN_JOB}: Completed / Completed"]


def test_a_failed_processing_job_stops_the_launcher_with_its_reason(launcher, boundary, tmp_path,
                                                                    capsys):
    reason = "AlgorithmError: prepare: the input has no Survived column"
    expect_processing(boundary.sagemaker, processing_job("Failed", FailureReason=reason))

    code, output = run(launcher, tmp_path)

    assert (code, output.exists()) == (1, False)  # and no training job was started
    assert capsys.readouterr().err == f"error: Processing job {PREP_JOB} ended Failed: {reason}\n"


def test_a_failed_training_job_stops_the_launcher_with_its_reason(launcher, boundary, tmp_path,
                                                                  capsys):
    reason = "AlgorithmError: n_estimators must be an integer, got 'many'"
    expect_processing(boundary.sagemaker, processing_job("InProgress"), processing_job("Completed"))
    expect_training(boundary.sagemaker, training_job("Failed", "Failed", FailureReason=reason))

    code, output = run(launcher, tmp_path)

    assert (code, output.exists()) == (1, False)
    assert capsys.readouterr().err == f"error: Training job {TRAIN_JOB} ended Failed: {reason}\n"
