"""The workflows' definitions run on the real local AWS by the Step Functions engine in-process
with the service's own integrations (`AwsIntegrations`), as the served Step Functions will run
them: the SageMaker jobs really run the images.

What the local AWS cannot do yet is left to the end-to-end round that follows it (issue 8:
Step Functions, Lambda and batch transform jobs served): here the Titanic inference and the
abalone chain are checked up to their transform, whose request the local SageMaker refuses.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from testkit import REPO
from workflows_kit import entered

from sagepipe.images import ImageRegistry
from sagepipe.stepfunctions.asl import Execution, ExecutionInfo, Outcome, parse_definition
from sagepipe.stepfunctions.integrations import AwsIntegrations, local_clients, unsupported_reason
from sagepipe.store import Store
from workflows import abalone, aws, titanic_inference, titanic_train
from workflows.states import FAILED

TITANIC, XGBOOST = aws.local_image("sagepipe-model"), aws.local_image("sagepipe-xgboost")


@pytest.fixture(scope="module")
def engine(local_aws):
    registry = ImageRegistry(Store(local_aws.db_path))
    registry.register(REPO / "model", TITANIC)
    registry.register(REPO / "workflows" / "images" / "xgboost", XGBOOST)
    runner = AwsIntegrations(local_clients(local_aws), poll_seconds=0.2)
    place = aws.Place(f"wf-{uuid.uuid4().hex[:8]}", "wf", aws.local_role("SageMakerRole"))
    runner._client("s3").create_bucket(Bucket=place.bucket)
    return runner, place


def run(engine, workflow, execution_input: dict) -> tuple[Outcome, list[dict]]:
    runner, _ = engine
    events: list[dict] = []
    name = uuid.uuid4().hex[:8]
    info = ExecutionInfo(f"arn:aws:states:us-east-1:000000000000:execution:{workflow.name}:"
                         f"{name}", name, "arn:aws:states:us-east-1:000000000000:stateMachine:"
                         f"{workflow.name}", workflow.name, aws.local_role("sfn"),
                         datetime.now(UTC))
    machine = parse_definition(json.dumps(workflow.definition.to_dict()), unsupported_reason)
    return Execution(machine, execution_input, info, runner, events.append).run(), events


def s3_text(engine, uri: str) -> str:
    return aws.get(engine[0]._client("s3"), uri).decode()


@pytest.fixture(scope="module")
def trained(engine) -> tuple[Outcome, str]:
    """titanic_train run once on the pipeline's default data: its outcome, the job name."""
    _, place = engine
    with tempfile.TemporaryDirectory() as tmp:
        data = titanic_train.default_data(Path(tmp)).read_bytes()
    aws.put(engine[0]._client("s3"), f"{place.uri('titanic', 'raw')}/titanic.csv", data)
    outcome, _ = run(engine, titanic_train.build(place, TITANIC),
                     {"PreprocessingJobName": "wf-t1-prepare", "TrainingJobName": "wf-t1-train"})
    return outcome, "wf-t1-train"


def test_titanic_train_succeeds_with_the_prepared_splits(engine, trained):
    outcome, job = trained
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert outcome.output["TrainingJobName"] == job
    metrics = {m["MetricName"]: m["Value"] for m in outcome.output["FinalMetricDataList"]}
    assert set(metrics) == {"train:accuracy", "validation:accuracy", "validation:f1",
                            "validation:auc"} and metrics["validation:accuracy"] > 0.7
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in outcome.output["InputDataConfig"]}
    assert channels["preprocessor"] == engine[1].uri("titanic", "prepared", "wf-t1-prepare",
                                                     "preprocessor")
    saved = json.loads(s3_text(engine, f"{channels['preprocessor']}/preprocessor.json"))
    assert saved["format"] == "titanic-preprocessor/1"


def test_titanic_train_failure_ends_in_the_fail_state_with_the_jobs_reason(engine):
    _, place = engine
    bad = aws.Place(place.bucket, "wf-bad", place.sagemaker_role_arn)
    aws.put(engine[0]._client("s3"), f"{bad.uri('titanic', 'raw')}/titanic.csv",
            b"name,age\nann,3\n")
    outcome, events = run(engine, titanic_train.build(bad, TITANIC),
                          {"PreprocessingJobName": "wf-bad-prepare",
                           "TrainingJobName": "wf-bad-train"})
    assert entered(events) == ["Preprocessing step", FAILED]
    assert outcome.status == "FAILED" and outcome.error == "States.TaskFailed"
    assert "lacks Survived, Pclass, Sex, Age" in json.loads(outcome.cause)["FailureReason"]


def test_titanic_inference_applies_the_saved_preprocessor_of_the_training_job(engine, trained):
    _, place = engine
    inputs = place.uri("titanic", "inference", "wf-s1", "input")
    aws.put(engine[0]._client("s3"), f"{inputs}/passengers.csv",
            titanic_inference.default_rows())
    _, events = run(engine, titanic_inference.build(place), {
        "TrainingJobName": trained[1], "JobName": "wf-s1", "InferenceData": inputs})
    assert entered(events)[:4] == ["Find the trained model", "Preprocessing step",
                                   "Save model", "Batch transform"]
    fill = json.loads(s3_text(engine, place.uri("titanic", "prepared", "wf-t1-prepare",
                                                "preprocessor", "preprocessor.json")))["age_fill"]
    run_uri = place.uri("titanic", "inference", "wf-s1")
    assert s3_text(engine, f"{run_uri}/rows/passengers.csv").splitlines() == [
        "1,female,29.0", f"3,male,{fill!r}", "2,female,8.0", "3,male,40.0"]
    assert s3_text(engine, f"{run_uri}/kept/passengers.csv").splitlines()[:2] == [
        "PassengerId,Pclass,Sex,Age", "1,1,female,29"]
    report = json.loads(s3_text(engine, f"{run_uri}/report/inference_report.json"))
    assert (report["rows_kept"], report["rows_rejected"]) == (4, 1)


def test_abalone_trains_with_the_built_in_metric_definitions(engine):
    runner, place = engine
    abalone.upload_data(runner._client("s3"), place)
    _, events = run(engine, abalone.build(place, XGBOOST),
                    {"JobName": "wf-ab1", "ModelName": "wf-ab1", "EndpointName": "wf-ab1"})
    assert entered(events)[:3] == ["Train Step", "Save model", "Transform Input Dataset"]
    sm = runner._client("sagemaker")
    job = sm.describe_training_job(TrainingJobName="wf-ab1")
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert 1 < metrics["train:rmse"] < metrics["validation:rmse"] < 2.5
    assert sm.describe_model(ModelName="wf-ab1")["PrimaryContainer"]["ModelDataUrl"] == \
        job["ModelArtifacts"]["S3ModelArtifacts"]
