"""The retail workflow for real on the local AWS: generated Online Retail rows prepared by its
Lambda function, XGBoost trained on them, the metric checked by the other function, and the
numeric gate both ways: under the threshold to batch inference (from the CloudFormation stack,
its functions deployed from S3), above it to "Model too weak" with the metric and the threshold
(from the module's own state machine and functions).

The preparation's Retry (15 s, then 60 s) is the seed's and the module does not let one shorten
it: a run that fails once and then succeeds is in the slow lane (`-m slow`)."""

from __future__ import annotations

import json
import time

import pytest
from testkit import unique
from workflows_kit import LocalWorkflows, entered, history, output, scheduled

from workflows.retail.data import generate, to_csv
from workflows.retail.workflow import HYPERPARAMETERS
from workflows.states import FAILED

INVOICES = "400"
GATE = ["Preparing data (Lambda)", "Training (SageMaker)", "Save model (SageMaker)",
        "Validating RMSE (Lambda)", "RMSE under threshold?"]


def lambda_error(response: dict) -> dict:
    assert response.get("FunctionError") == "Unhandled", response
    return json.loads(response["Payload"].read())


@pytest.fixture(scope="module")
def passed(local: LocalWorkflows) -> dict:
    """A run from the stack whose model is good enough for the threshold 1.0."""
    machine = local.stack("retail")
    job = unique("retail")
    run = local.run("retail", "--state-machine-arn", machine, "--rmse-threshold", "1.0",
                    "--invoices", INVOICES, "--job-name", job)
    assert run.returncode == 0, run
    described, events = local.finished(run.execution_arn)
    return {"job": job, "run": run, "described": described, "events": events,
            "machine": machine}


@pytest.fixture(scope="module")
def too_weak(local: LocalWorkflows) -> dict:
    """A run of the module's own state machine and functions, with a threshold no model meets."""
    job = unique("retail-weak")
    run = local.run("retail", "--rmse-threshold", "0.01", "--invoices", INVOICES,
                    "--job-name", job)
    described, events = local.finished(run.execution_arn)
    return {"job": job, "run": run, "described": described, "events": events}


def test_under_the_threshold_the_model_scores_the_test_rows(local, passed):
    assert passed["described"]["status"] == "SUCCEEDED"
    assert entered(passed["events"]) == [*GATE, "Batch inference (SageMaker)"]
    result, job = output(passed["described"]), passed["job"]
    metrics = local.metrics(job)
    assert result["Check"] == {"TrainingJobName": job, "MetricName": "validation:rmse",
                               "Value": metrics["validation:rmse"], "Threshold": 1.0}
    predictions = local.text(f"{result['Inference']['Predictions']}/test.csv.out").splitlines()
    assert len(predictions) == result["Data"]["Rows"]["test"] > 0
    assert all(float(price) > 0 for price in predictions)
    assert f"validation:rmse {metrics['validation:rmse']} <= 1.0: predictions for " \
           f"{len(predictions)} rows" in passed["run"].stdout


def test_the_stacks_functions_prepare_the_data_and_check_the_metric(local, passed):
    stack = passed["machine"].rpartition(":")[2]
    names = [p.get("FunctionName") for p in scheduled(passed["events"]) if "Payload" in p]
    assert [n.rpartition(":")[2] for n in names] == [f"{stack}-prepare-data",
                                                    f"{stack}-check-metric"]
    result = output(passed["described"])
    prepared = f"s3://{local.bucket}/workflows/retail/{passed['job']}/prepared"
    assert {k: result["Data"][k] for k in ("Train", "Validation", "Test")} == {
        "Train": f"{prepared}/train/", "Validation": f"{prepared}/validation/",
        "Test": f"{prepared}/test/"}
    training = local.client("sagemaker").describe_training_job(TrainingJobName=passed["job"])
    assert {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
            for c in training["InputDataConfig"]} == {"train": result["Data"]["Train"],
                                                      "validation": result["Data"]["Validation"]}
    assert training["HyperParameters"] == {k: str(v) for k, v in HYPERPARAMETERS.items()}
    rows = local.text(f"{prepared}/train/train.csv").splitlines()
    assert len(rows) == result["Data"]["Rows"]["train"]
    assert all(len(row.split(",")) == 11 for row in rows)  # UnitPrice first, no header


def test_above_the_threshold_the_run_fails_with_the_metric_and_the_threshold(local, too_weak):
    described, run, job = too_weak["described"], too_weak["run"], too_weak["job"]
    assert run.returncode == 1, run
    assert entered(too_weak["events"]) == [*GATE, "Model too weak"]
    # The metric is validation:rmse, found by name: train:rmse comes first in the job's list.
    metrics = local.metrics(job)
    assert list(metrics) == ["train:rmse", "validation:rmse"]
    cause = (f"validation:rmse of training job {job} is {metrics['validation:rmse']}, above "
             "the threshold 0.01")
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED", "ModelTooWeak", cause)
    assert run.stderr == f"FAILED: ModelTooWeak\n{cause}\n"
    assert local.client("sagemaker").list_transform_jobs(NameContains=job)[
        "TransformJobSummaries"] == []


def test_the_module_deploys_its_own_functions(local, too_weak):
    lam = local.client("lambda")
    for suffix in ("prepare-data", "check-metric"):
        name = f"sagepipe-retail-{suffix}"
        assert f"function arn:aws:lambda:us-east-1:000000000000:function:{name}\n" in \
            too_weak["run"].stdout
        assert lam.get_function(FunctionName=name)["Configuration"]["Runtime"] == "python3.12"


def test_the_check_function_reads_a_real_jobs_metric_by_name(local, too_weak):
    lam, job = local.client("lambda"), too_weak["job"]
    answer = lam.invoke(FunctionName="sagepipe-retail-check-metric", Payload=json.dumps({
        "TrainingJobName": job, "MetricName": "validation:rmse", "Threshold": "1.5"}))
    assert json.loads(answer["Payload"].read()) == {
        "TrainingJobName": job, "MetricName": "validation:rmse",
        "Value": local.metrics(job)["validation:rmse"], "Threshold": 1.5}
    error = lambda_error(lam.invoke(FunctionName="sagepipe-retail-check-metric",
                                    Payload=json.dumps({"TrainingJobName": job,
                                                        "MetricName": "validation:mae",
                                                        "Threshold": 1})))
    assert error["errorType"] == "MetricNotFound"
    assert error["errorMessage"] == (f"training job {job} reported no 'validation:mae'; it "
                                     "reported train:rmse, validation:rmse")


def test_the_preparation_function_refuses_rows_that_are_not_online_retail(local, too_weak):
    raw = f"s3://{local.bucket}/workflows/retail/raw/not-retail.csv"
    local.client("s3").put_object(Bucket=local.bucket, Key=raw.split("/", 3)[3],
                                  Body=b"InvoiceNo,Quantity\n1,2\n")
    error = lambda_error(local.client("lambda").invoke(
        FunctionName="sagepipe-retail-prepare-data",
        Payload=json.dumps({"RawData": raw, "Output": f"s3://{local.bucket}/out"})))
    assert error["errorType"] == "BadInput"
    assert "lacks the column(s) StockCode, Description, InvoiceDate" in error["errorMessage"]


def test_a_failed_preparation_is_retried_after_15_s_and_the_run_succeeds(local):
    """The raw data is not there when the preparation first runs (NoSuchKey); it is uploaded
    while the Retry waits, and the second attempt goes on to batch inference. (Started with
    StartExecution on the stack's state machine: the module uploads the rows before it starts.)"""
    job = unique("retail-retry")
    raw = f"workflows/retail/raw/{job}.csv"
    sfn = local.client("stepfunctions")
    execution_input = {"JobName": job, "ModelName": job, "RmseThreshold": 1.0,
                       "RawData": f"s3://{local.bucket}/{raw}"}
    execution = sfn.start_execution(stateMachineArn=local.stack("retail"), name=job,
                                    input=json.dumps(execution_input))["executionArn"]
    deadline = time.monotonic() + 60
    while not any(e["type"] == "TaskFailed" for e in history(sfn, execution)):
        assert time.monotonic() < deadline, "the first attempt never failed"
        time.sleep(0.5)
    local.client("s3").put_object(Bucket=local.bucket, Key=raw,
                                  Body=to_csv(generate(int(INVOICES))))
    described, events = local.finished(execution)
    assert described["status"] == "SUCCEEDED", described
    assert entered(events)[-1] == "Batch inference (SageMaker)"
    attempts = [e for e in events if e["type"] in ("TaskScheduled", "TaskFailed")][:3]
    assert [e["type"] for e in attempts] == ["TaskScheduled", "TaskFailed", "TaskScheduled"]
    assert "NoSuchKey" in json.dumps(attempts[1]["taskFailedEventDetails"])
    waited = (attempts[2]["timestamp"] - attempts[1]["timestamp"]).total_seconds()
    assert waited >= 15  # the Retry's interval, waited out (not a speed check)
    assert FAILED not in entered(events)
