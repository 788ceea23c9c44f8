"""The training script's calls to AWS, parameter for parameter (botocore validates them against
the Step Functions API model before the Stubber compares them), with the answers Step Functions
gives: a run that succeeds, a failed training job, a failed processing job. The state machine
is the real exported training workflow (workflows/templates/titanic_train.yaml) as the Build
stage deploys it; the data upload goes to moto's S3, where the uploaded object is read back.

The script's clock is a stand-in (job names carry a timestamp, the polling sleeps): it starts at
a fixed instant and only moves when the script sleeps, which also shows the back-off.
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
import yaml
from botocore.stub import Stubber
from moto import mock_aws

from .deploy_kit import ACCOUNT, BUCKET, REGION, REPO

SCRIPTS = REPO / "CodePipeline" / "scripts"
TEMPLATE = REPO / "workflows" / "templates" / "titanic_train.yaml"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sagepipe-model:c0ffee1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagepipe-sagemaker-role"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:sagepipe-training"
RUN = f"s3://{BUCKET}/sagepipe/c0ffee1/titanic"
START = datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
PREP_JOB = "sagepipe-prep-20260101-000000-250"
TRAIN_JOB = "sagepipe-train-20260101-000000-250"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sagepipe-training:{TRAIN_JOB}"
MODEL_DATA = f"{RUN}/models/{TRAIN_JOB}/output/model.tar.gz"
SPLITS = ("train", "validation", "test", "preprocessor", "report")


class Clock:
    """The script's `time`: a fixed start that only sleeping moves on."""

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


def deployed_definition() -> str:
    """The exported definition with the substitutions the Build stage's deploy makes."""
    machine = yaml.safe_load(TEMPLATE.read_text())["Resources"]["StateMachineComponent"]
    text = machine["Properties"]["DefinitionString"]
    for name, value in {"Bucket": BUCKET, "Prefix": "sagepipe/c0ffee1", "SageMakerRoleArn": ROLE,
                        "InstanceType": "ml.m5.large", "TitanicImageUri": IMAGE}.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text
    return text


@pytest.fixture
def script(monkeypatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(SCRIPTS))
    return importlib.import_module("run_training")


@pytest.fixture
def boundary(script, monkeypatch):
    """moto's S3 with the artifact bucket, and a stubbed Step Functions, as the script's boto3."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        clients = {"s3": s3, "stepfunctions": sfn}
        monkeypatch.setattr(script, "boto3", SimpleNamespace(client=clients.__getitem__))
        clock = Clock(START)
        monkeypatch.setattr(script, "time", clock)
        with Stubber(sfn) as stubber:
            yield SimpleNamespace(s3=s3, sfn=stubber, clock=clock)
            stubber.assert_no_pending_responses()


def run(script: ModuleType, tmp_path: Path) -> tuple[int, Path]:
    output = tmp_path / "training.json"
    code = script.main([
        "--state-machine-arn", MACHINE, "--job-prefix", "sagepipe",
        "--hyperparameters", str(REPO / "model" / "hyperparameters.json"),
        "--hyperparameter", "max_depth=4", "--output", str(output)])
    return code, output


# ------------------------------------------------------------------ what the script must send
EXECUTION_INPUT = json.dumps({
    "PreprocessingJobName": PREP_JOB, "TrainingJobName": TRAIN_JOB,
    # model/hyperparameters.json, max_depth overridden on the command line; strings.
    "HyperParameters": {"n_estimators": "100", "max_depth": "4", "min_samples_leaf": "2",
                        "random_state": "42"}})


def expect_start(stubber: Stubber) -> None:
    stubber.add_response("describe_state_machine", {
        "stateMachineArn": MACHINE, "name": "sagepipe-training",
        "definition": deployed_definition(),
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/sagepipe-training-StateMachineRole-A1B2C3D4E5F6",
        "type": "STANDARD", "creationDate": START}, {"stateMachineArn": MACHINE})
    stubber.add_response("start_execution", {"executionArn": EXECUTION, "startDate": START},
                         {"stateMachineArn": MACHINE, "name": TRAIN_JOB,
                          "input": EXECUTION_INPUT})


# ------------------------------------------------------------------ what Step Functions answers
def event(number: int, kind: str, **details) -> dict:
    return {"timestamp": START, "type": kind, "id": number, "previousEventId": number - 1,
            **details}


def entered(number: int, state: str) -> dict:
    return event(number, "TaskStateEntered",
                 stateEnteredEventDetails={"name": state, "input": "{}"})


def processing_job(status: str, **extra) -> dict:
    return {"ProcessingJobName": PREP_JOB, "ProcessingJobStatus": status,
            "ProcessingOutputConfig": {"Outputs": [
                {"OutputName": split, "S3Output": {
                    "S3Uri": f"{RUN}/prepared/{PREP_JOB}/{split}",
                    "LocalPath": f"/opt/ml/processing/output/{split}",
                    "S3UploadMode": "EndOfJob"}} for split in SPLITS]}, **extra}


def processed(number: int) -> dict:
    return event(number, "TaskSucceeded", taskSucceededEventDetails={
        "resourceType": "sagemaker", "resource": "createProcessingJob.sync",
        "output": json.dumps(processing_job("Completed"))})


def task_failed(number: int, resource: str, job: dict) -> dict:
    return event(number, "TaskFailed", taskFailedEventDetails={
        "resourceType": "sagemaker", "resource": resource, "error": "States.TaskFailed",
        "cause": json.dumps(job)})


def execution(status: str, **extra) -> dict:
    return {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "name": TRAIN_JOB,
            "status": status, "startDate": START, **extra}


def expect_poll(stubber: Stubber, described: dict, events: list[dict]) -> None:
    stubber.add_response("describe_execution", described, {"executionArn": EXECUTION})
    stubber.add_response("get_execution_history", {"events": events},
                         {"executionArn": EXECUTION})


def failed_run(stubber: Stubber, state: str, resource: str, job: dict) -> None:
    """An execution whose `state` fails with `job`'s description, caught to the Fail state."""
    events = [entered(2, "Preprocessing step")]
    if state == "TrainStep":
        events += [processed(3), entered(4, "TrainStep")]
    events += [task_failed(len(events) + 2, resource, job),
               event(len(events) + 3, "FailStateEntered",
                     stateEnteredEventDetails={"name": "ML Workflow failed", "input": "{}"})]
    expect_poll(stubber, execution("FAILED", error="States.TaskFailed", cause=json.dumps(job)),
                events)


def test_runs_the_training_workflow_on_the_data_and_reports_the_model(script, boundary,
                                                                       tmp_path, capsys):
    expect_start(boundary.sfn)
    expect_poll(boundary.sfn, execution("RUNNING"), [entered(2, "Preprocessing step")])
    expect_poll(boundary.sfn, execution("RUNNING"),
                [entered(2, "Preprocessing step"), processed(3), entered(4, "TrainStep")])
    job = {"TrainingJobName": TRAIN_JOB, "TrainingJobStatus": "Completed",
           "ModelArtifacts": {"S3ModelArtifacts": MODEL_DATA},
           "FinalMetricDataList": [{"MetricName": "validation:accuracy", "Value": 0.81}]}
    expect_poll(boundary.sfn, execution("SUCCEEDED", output=json.dumps(job)),
                [entered(2, "Preprocessing step"), processed(3), entered(4, "TrainStep")])

    code, output = run(script, tmp_path)

    assert code == 0
    assert json.loads(output.read_text()) == {
        "ModelDataUrl": MODEL_DATA, "TrainingJobName": TRAIN_JOB,
        "Metrics": {"validation:accuracy": 0.81},
        "TestDataUri": f"{RUN}/prepared/{PREP_JOB}/test",
        "DataValidationReportUri": f"{RUN}/prepared/{PREP_JOB}/report",
        "ExecutionArn": EXECUTION}
    # The default data, exported from the bokeh-sampledata wheel, is where the definition's
    # processing job reads its raw rows.
    uploaded = boundary.s3.get_object(Bucket=BUCKET, Key="sagepipe/c0ffee1/titanic/raw/titanic.csv")
    expected = script.export_titanic(tmp_path / "expected.csv").read_bytes()
    assert uploaded["Body"].read() == expected
    assert expected.startswith(b"Survived,Pclass,Sex,Age\r\n")
    # Polling backs off from 1 s; each state is printed once, as it is entered.
    assert boundary.clock.sleeps == [1.0, 1.5]
    assert capsys.readouterr().out.splitlines()[:3] == [
        f"execution {EXECUTION}", "  -> Preprocessing step", "  -> TrainStep"]


def test_a_failed_training_job_fails_the_script_with_its_reason(script, boundary, tmp_path,
                                                                capsys):
    reason = "AlgorithmError: n_estimators must be an integer, got 'many'"
    expect_start(boundary.sfn)
    failed_run(boundary.sfn, "TrainStep", "createTrainingJob.sync",
               {"TrainingJobName": TRAIN_JOB, "TrainingJobStatus": "Failed",
                "FailureReason": reason})

    code, output = run(script, tmp_path)

    assert (code, output.exists()) == (1, False)
    assert capsys.readouterr().err == (
        f"error: execution {EXECUTION} FAILED in state 'TrainStep': States.TaskFailed\n"
        f"{TRAIN_JOB} ended Failed: {reason}\n")


def test_a_failed_processing_job_fails_the_script_with_its_reason(script, boundary, tmp_path,
                                                                  capsys):
    reason = "ClientError: the input lacks Survived, Pclass, Sex, Age"
    expect_start(boundary.sfn)
    failed_run(boundary.sfn, "Preprocessing step", "createProcessingJob.sync",
               processing_job("Failed", FailureReason=reason))

    code, output = run(script, tmp_path)

    assert (code, output.exists()) == (1, False)
    assert capsys.readouterr().err == (
        f"error: execution {EXECUTION} FAILED in state 'Preprocessing step': States.TaskFailed"
        f"\n{PREP_JOB} ended Failed: {reason}\n")


def test_a_state_machine_that_is_not_the_training_workflow_is_refused(script, boundary,
                                                                      tmp_path):
    boundary.sfn.add_response("describe_state_machine", {
        "stateMachineArn": MACHINE, "name": "sagepipe-training", "roleArn": ROLE,
        "definition": json.dumps({"StartAt": "Wait", "States": {"Wait": {
            "Type": "Wait", "Seconds": 1, "End": True}}}),
        "type": "STANDARD", "creationDate": START}, {"stateMachineArn": MACHINE})

    with pytest.raises(SystemExit, match="no processing job with a fixed S3 input named 'raw'"):
        run(script, tmp_path)
