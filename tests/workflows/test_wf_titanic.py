"""Hermione's two machines for real on the local AWS: titanic_train from its CloudFormation stack
(the model every test here scores with), its failure path on bad data from the module's own
state machine; titanic_inference fed that training job, scoring every row with the saved
preprocessor, and its failure path from its stack."""

from __future__ import annotations

import csv
import io
import json

import pytest
from testkit import unique
from workflows_kit import LocalWorkflows, entered, output

from workflows.states import FAILED

PASSENGERS = [("PassengerId", "Name", "Pclass", "Sex", "Age"),
              (11, "Allen, Miss Elisabeth", 1, "female", 29),
              (12, "Braund, Mr Owen", 3, "male", ""), (13, "Dean, Miss Vera", 2, "female", 8),
              (14, "Kelly, Mr James", 3, "male", 40.5), (15, "Hays, Mr Charles", 1, "male", 55)]


def csv_bytes(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def trained(local: LocalWorkflows) -> dict:
    """titanic_train run once, from its stack, on the pipeline's default data: the execution's
    description, history and output, and the run."""
    arn = local.stack("titanic_train")
    run = local.run("titanic_train", "--state-machine-arn", arn, "--job-name", unique("titanic"))
    assert run.returncode == 0, run
    described, events = local.finished(run.execution_arn)
    return {"run": run, "described": described, "events": events, "output": output(described),
            "state_machine": arn}


def test_titanic_train_from_its_stack_trains_on_the_splits_it_prepared(local, trained):
    assert trained["described"]["status"] == "SUCCEEDED"
    assert trained["described"]["stateMachineArn"] == trained["state_machine"]
    assert entered(trained["events"]) == ["Preprocessing step", "TrainStep"]
    job = trained["output"]
    metrics = local.metrics(job["TrainingJobName"])
    assert {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]} == metrics
    assert set(metrics) == {"train:accuracy", "validation:accuracy", "validation:f1",
                            "validation:auc"} and metrics["validation:accuracy"] > 0.7
    # The module printed the command that scores rows with it.
    assert f"--training-job-name {job['TrainingJobName']}" in trained["run"].stdout
    # The training channels are the outputs of this run's processing job.
    processing = job["TrainingJobName"].removesuffix("-train") + "-prepare"
    described = local.client("sagemaker").describe_processing_job(ProcessingJobName=processing)
    outputs = {o["OutputName"]: o["S3Output"]["S3Uri"]
               for o in described["ProcessingOutputConfig"]["Outputs"]}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in job["InputDataConfig"]}
    assert channels == {name: outputs[name] for name in ("train", "validation", "preprocessor")}
    saved = json.loads(local.text(f"{channels['preprocessor']}/preprocessor.json"))
    assert saved["format"] == "titanic-preprocessor/1"
    raw = local.text(f"s3://{local.bucket}/workflows/titanic/raw/titanic.csv").splitlines()
    assert raw[0] == "Survived,Pclass,Sex,Age" and len(raw) > 1000  # the pipeline's data


def test_bad_data_ends_in_the_fail_state_with_the_jobs_reason(local, tmp_path):
    """From the module's own state machine (created by the run, as without a stack)."""
    bad = tmp_path / "bad.csv"
    bad.write_text("name,age\nann,3\n")
    job = unique("titanic-bad")
    run = local.run("titanic_train", "--data", str(bad), "--prefix", "bad-data",
                    "--job-name", job)
    assert run.returncode == 1, run
    described, events = local.finished(run.execution_arn)
    assert described["stateMachineArn"].endswith(":stateMachine:sagepipe-titanic-train")
    assert entered(events) == ["Preprocessing step", FAILED]
    assert described["status"] == "FAILED" and described["error"] == "States.TaskFailed"
    reason = json.loads(described["cause"])["FailureReason"]
    assert "lacks Survived, Pclass, Sex, Age" in reason
    assert reason == local.client("sagemaker").describe_processing_job(
        ProcessingJobName=f"{job}-prepare")["FailureReason"]
    assert run.stderr.startswith("FAILED: States.TaskFailed\n")
    assert "lacks Survived, Pclass, Sex, Age" in run.stderr
    assert "  -> Preprocessing step\n  -> ML Workflow failed\n" in run.stdout


def test_inference_scores_every_row_with_the_model_and_preprocessor_of_the_training_run(
        local, trained, tmp_path):
    rows = tmp_path / "passengers.csv"
    rows.write_bytes(csv_bytes(PASSENGERS))
    training, job = trained["output"], unique("score")
    run = local.run("titanic_inference", "--training-job-name", training["TrainingJobName"],
                    "--data", str(rows), "--job-name", job)
    assert run.returncode == 0, run
    described, events = local.finished(run.execution_arn)
    assert entered(events) == ["Find the trained model", "Preprocessing step", "Save model",
                               "Batch transform", "Write predictions"]
    predictions = output(described)["Output"]["Predictions"]
    assert predictions == f"s3://{local.bucket}/workflows/titanic/inference/{job}/predictions"

    table = list(csv.reader(io.StringIO(local.text(f"{predictions}/passengers.csv"))))
    header, *scored = table
    assert header == [*PASSENGERS[0], "PredictedSurvived", "SurvivalProbability"]
    assert [row[:5] for row in scored] == [[str(cell) for cell in row] for row in PASSENGERS[1:]]
    for row in scored:
        assert row[5] in ("0", "1") and 0 <= float(row[6]) <= 1
        assert (row[5] == "1") == (float(row[6]) >= 0.5)
    assert f"{predictions}/passengers.csv:\n{','.join(header)}\n" in run.stdout

    # The model is the training job's; the preprocessor its saved one, not refitted: the
    # missing Age became that preprocessor's training median.
    sm = local.client("sagemaker")
    assert sm.describe_model(ModelName=job)["PrimaryContainer"]["ModelDataUrl"] == \
        training["ModelArtifacts"]["S3ModelArtifacts"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in sm.describe_processing_job(
        ProcessingJobName=f"{job}-prepare")["ProcessingInputs"]}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in training["InputDataConfig"]}
    assert inputs["preprocessor"] == channels["preprocessor"]
    fill = json.loads(local.text(f"{channels['preprocessor']}/preprocessor.json"))["age_fill"]
    sent = local.text(f"s3://{local.bucket}/workflows/titanic/inference/{job}/rows/"
                      "passengers.csv").splitlines()
    assert sent[1] == f"3,male,{fill!r}" and len(sent) == len(PASSENGERS) - 1


def test_inference_from_its_stack_fails_with_the_reason_when_rows_lack_a_column(
        local, trained, tmp_path):
    rows = tmp_path / "no-sex.csv"
    rows.write_bytes(csv_bytes([("Pclass", "Age"), (1, 30)]))
    run = local.run("titanic_inference", "--state-machine-arn", local.stack("titanic_inference"),
                    "--training-job-name", trained["output"]["TrainingJobName"],
                    "--data", str(rows), "--job-name", unique("score-bad"))
    assert run.returncode == 1, run
    described, events = local.finished(run.execution_arn)
    assert entered(events) == ["Find the trained model", "Preprocessing step", FAILED]
    assert "header Pclass,Age lacks Sex" in json.loads(described["cause"])["FailureReason"]


def test_inference_refuses_a_training_job_that_does_not_exist(local):
    run = local.run("titanic_inference", "--training-job-name", "never-trained")
    assert run.returncode == 1 and "execution" not in run.stdout
    assert run.stderr.startswith("training job never-trained: ")
