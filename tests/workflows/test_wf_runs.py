"""The workflows run by the local Step Functions' interpreter, their tasks answered by a
deterministic runner (workflows_kit.Cloud) and the real Lambda handlers: the retail gate both
ways, retries, the failure paths, the Titanic machines linked by the training job, the
experiments' choice of the best candidate and its deployment."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import check_metric
import pick_best
import prepare_retail_data
import pytest
from moto import mock_aws
from workflows_kit import (
    PLACE,
    TITANIC,
    XGBOOST,
    Cloud,
    RecordingClock,
    entered,
    execute,
    stubbed_describe,
)

from workflows import abalone, experiments, titanic_inference, titanic_train
from workflows.retail import workflow as retail
from workflows.retail.data import generate, to_csv
from workflows.states import FAILED

RAW = f"s3://{PLACE.bucket}/wf/retail/raw/online.csv"
RETAIL_INPUT = {"JobName": "retail-1", "ModelName": "retail-1", "RawData": RAW,
                "RmseThreshold": 1.0}
GATE_PASSED = ["Preparing data (Lambda)", "Training (SageMaker)", "Save model (SageMaker)",
               "Validating RMSE (Lambda)", "RMSE under threshold?",
               "Batch inference (SageMaker)"]


@pytest.fixture
def retail_s3() -> Iterator[object]:
    """S3 (moto) holding generated raw Online Retail rows, for the real preparation Lambda."""
    with mock_aws():
        prepare_retail_data._s3.cache_clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=PLACE.bucket)
        bucket, _, key = RAW.removeprefix("s3://").partition("/")
        s3.put_object(Bucket=bucket, Key=key, Body=to_csv(generate(invoices=150)))
        yield s3
        prepare_retail_data._s3.cache_clear()


def retail_cloud(validation_rmse: float, prepare=None, **kwargs) -> Cloud:
    cloud = Cloud(metrics={"retail-1": {"train:rmse": 0.05, "validation:rmse": validation_rmse}},
                  **kwargs)
    cloud.functions = {
        "prepare-fn": prepare or (lambda event: prepare_retail_data.handler(event, None)),
        "check-fn": lambda event: check_metric.check(
            event, stubbed_describe(cloud.jobs[event["TrainingJobName"]]))}
    return cloud


def run_retail(cloud: Cloud, **inputs):
    workflow = retail.build(PLACE, XGBOOST, "prepare-fn", "check-fn")
    return execute(workflow, {**RETAIL_INPUT, **inputs}, cloud)


def test_retail_below_the_threshold_goes_to_batch_inference(retail_s3):
    cloud = retail_cloud(0.42)
    outcome, events = run_retail(cloud)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert entered(events) == GATE_PASSED
    prepared = cloud.called("lambda:invoke")[0]["Payload"]
    assert prepared == {"RawData": RAW, "Output": "s3://wf-bucket/wf/retail/retail-1/prepared"}
    (training,) = cloud.called("createTrainingJob.sync")
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in training["InputDataConfig"]}
    assert channels == {"train": "s3://wf-bucket/wf/retail/retail-1/prepared/train/",
                        "validation": "s3://wf-bucket/wf/retail/retail-1/prepared/validation/"}
    (transform,) = cloud.called("createTransformJob.sync")
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == \
        "s3://wf-bucket/wf/retail/retail-1/prepared/test/"
    assert transform["ModelName"] == "retail-1"
    assert outcome.output["Check"] == {"TrainingJobName": "retail-1",
                                       "MetricName": "validation:rmse", "Value": 0.42,
                                       "Threshold": 1.0}
    assert outcome.output["Data"]["Rows"]["test"] > 0
    assert outcome.output["Inference"] == {
        "Predictions": "s3://wf-bucket/wf/retail/retail-1/predictions"}


def test_retail_above_the_threshold_fails_with_both_numbers(retail_s3):
    cloud = retail_cloud(1.75)
    outcome, events = run_retail(cloud)
    assert outcome.status == "FAILED"
    assert entered(events) == [*GATE_PASSED[:-1], "Model too weak"]
    assert outcome.error == "ModelTooWeak"
    assert outcome.cause == ("validation:rmse of training job retail-1 is 1.75, above the "
                             "threshold 1.0")
    assert cloud.called("createTransformJob.sync") == []


@pytest.mark.parametrize(("threshold", "passes"), [(1.75, True), ("1.75", True),
                                                    (1.7499, False), ("10", True)])
def test_the_gate_compares_numbers_even_when_the_threshold_came_as_text(retail_s3, threshold,
                                                                         passes):
    """The seed compared strings: "10" < "1.75" and the model failed. Equal passes."""
    _, events = run_retail(retail_cloud(1.75), RmseThreshold=threshold)
    assert (entered(events)[-1] == "Batch inference (SageMaker)") is passes


def test_the_metric_is_found_by_name_not_position(retail_s3):
    cloud = retail_cloud(0.3)
    cloud.metrics = {"retail-1": {"train:rmse": 0.05, "validation:mae": 0.2,
                                  "validation:rmse": 3.5}}
    outcome, _ = run_retail(cloud)
    assert outcome.error == "ModelTooWeak" and " is 3.5," in outcome.cause


def test_a_job_without_the_metric_fails_the_workflow_saying_which_it_has(retail_s3):
    cloud = retail_cloud(0.3)
    cloud.metrics = {"retail-1": {"train:rmse": 0.05}}
    clock = RecordingClock()
    outcome, events = execute(retail.build(PLACE, XGBOOST, "prepare-fn", "check-fn"),
                              RETAIL_INPUT, cloud, clock)
    assert entered(events)[-1] == FAILED and outcome.error == "MetricNotFound"
    assert "reported no 'validation:rmse'; it reported train:rmse" in outcome.cause
    assert clock.sleeps == [15, 60]  # the seed's retry, then the catch


def test_the_preparation_is_retried_15_s_then_60_s(retail_s3):
    calls = []

    def flaky(event):
        calls.append(event)
        if len(calls) < 3:
            raise ConnectionError("S3 was not reachable")
        return prepare_retail_data.handler(event, None)

    clock = RecordingClock()
    outcome, _ = execute(retail.build(PLACE, XGBOOST, "prepare-fn", "check-fn"), RETAIL_INPUT,
                         retail_cloud(0.3, prepare=flaky), clock)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert len(calls) == 3 and clock.sleeps == [15, 60]


def test_bad_raw_data_ends_in_the_failure_state_with_the_lambdas_reason(retail_s3):
    retail_s3.put_object(Bucket=PLACE.bucket, Key="wf/retail/raw/online.csv",
                         Body=b"InvoiceNo,Quantity\n1,2\n")
    outcome, events = run_retail(retail_cloud(0.3))
    assert entered(events)[-1] == FAILED and outcome.error == "BadInput"
    assert "lacks the column(s) StockCode, Description, InvoiceDate" in outcome.cause


def test_a_failed_training_job_ends_in_the_failure_state_with_its_reason(retail_s3):
    reason = "AlgorithmError: hyperparameter num_round='0' is out of range"
    outcome, events = run_retail(retail_cloud(0.3, failures={"retail-1": reason}))
    assert entered(events)[-2:] == ["Training (SageMaker)", FAILED]
    assert outcome.status == "FAILED" and outcome.error == "States.TaskFailed"
    assert reason in outcome.cause


TITANIC_METRICS = {"train:accuracy": 0.82, "validation:accuracy": 0.8, "validation:f1": 0.74,
                   "validation:auc": 0.84}


def train_titanic(cloud: Cloud):
    return execute(titanic_train.build(PLACE, TITANIC),
                   {"PreprocessingJobName": "t-prepare", "TrainingJobName": "t-train"}, cloud)


def test_titanic_inference_uses_the_model_and_preprocessor_of_the_training_run():
    cloud = Cloud(metrics={"*": TITANIC_METRICS})
    trained, events = train_titanic(cloud)
    assert trained.status == "SUCCEEDED" and entered(events) == ["Preprocessing step",
                                                                 "TrainStep"]
    (prepare,) = cloud.called("createProcessingJob.sync")
    assert prepare["ProcessingOutputConfig"]["Outputs"][3]["S3Output"]["S3Uri"] == \
        "s3://wf-bucket/wf/titanic/prepared/t-prepare/preprocessor"

    outcome, events = execute(titanic_inference.build(PLACE), {
        "TrainingJobName": "t-train", "JobName": "score-1",
        "InferenceData": "s3://wf-bucket/wf/titanic/inference/score-1/input"}, cloud)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert entered(events) == ["Find the trained model", "Preprocessing step", "Save model",
                               "Batch transform", "Write predictions"]
    _, inference, predictions = cloud.called("createProcessingJob.sync")
    assert inference["AppSpecification"] == {"ImageUri": TITANIC,
                                              "ContainerEntrypoint": ["prepare"],
                                              "ContainerArguments": ["--step", "inference"]}
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in inference["ProcessingInputs"]}
    assert inputs == {"raw": "s3://wf-bucket/wf/titanic/inference/score-1/input",
                      "preprocessor": "s3://wf-bucket/wf/titanic/prepared/t-prepare/"
                                      "preprocessor"}
    (model,) = cloud.called("createModel")
    assert model["PrimaryContainer"] == {
        "Image": TITANIC,
        "ModelDataUrl": "s3://wf-bucket/wf/titanic/models/t-train/output/model.tar.gz"}
    (transform,) = cloud.called("createTransformJob.sync")
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == \
        "s3://wf-bucket/wf/titanic/inference/score-1/rows"
    assert transform["TransformInput"]["SplitType"] == "Line"
    assert predictions["AppSpecification"]["ContainerArguments"] == ["--step", "predictions"]
    assert {i["InputName"]: i["S3Input"]["S3Uri"] for i in predictions["ProcessingInputs"]} == {
        "kept": "s3://wf-bucket/wf/titanic/inference/score-1/kept",
        "transformed": transform["TransformOutput"]["S3OutputPath"]}
    assert outcome.output["Output"] == {
        "Predictions": "s3://wf-bucket/wf/titanic/inference/score-1/predictions"}


def test_titanic_failures_end_in_ml_workflow_failed_with_the_jobs_reason():
    reason = "ClientError: raw input: no .csv files in /opt/ml/processing/input/raw"
    outcome, events = train_titanic(Cloud(failures={"t-prepare": reason}))
    assert entered(events) == ["Preprocessing step", FAILED]
    assert outcome.error == "States.TaskFailed" and reason in outcome.cause

    outcome, events = execute(titanic_inference.build(PLACE), {
        "TrainingJobName": "never-trained", "JobName": "score-2",
        "InferenceData": "s3://wf-bucket/in"}, Cloud())
    assert entered(events) == ["Find the trained model", FAILED]
    assert outcome.error == "SageMaker.ResourceNotFoundException"


def run_experiments(cloud: Cloud):
    cloud.functions = {"pick-fn": lambda event: pick_best.handler(event, None)}
    return execute(experiments.build(PLACE, XGBOOST, "pick-fn"), {
        "JobName": "exp", "ModelName": "exp", "EndpointName": "abalone",
        "Candidates": experiments.CANDIDATES}, cloud)


@pytest.mark.parametrize(("existing", "deployed_by"), [((), "createEndpoint"),
                                                        (("abalone",), "updateEndpoint")])
def test_experiments_deploy_the_best_candidate_and_report_the_losers(existing, deployed_by):
    cloud = Cloud(endpoints=existing, metrics={
        "exp-0": {"train:rmse": 2.1, "validation:rmse": 2.3},
        "exp-1": {"train:rmse": 1.6, "validation:rmse": 2.1},
        "exp-2": {"train:rmse": 1.1, "validation:rmse": 2.2}})
    outcome, events = run_experiments(cloud)
    assert outcome.status == "SUCCEEDED", outcome.cause
    trained = cloud.called("createTrainingJob.sync")
    assert sorted(t["TrainingJobName"] for t in trained) == ["exp-0", "exp-1", "exp-2"]
    assert {t["TrainingJobName"]: t["HyperParameters"]["max_depth"] for t in trained} == {
        "exp-0": "2", "exp-1": "5", "exp-2": "8"}
    best = outcome.output["Best"]
    assert best["TrainingJobName"] == "exp-1" and best["Metrics"]["validation:rmse"] == 2.1
    assert [(c["TrainingJobName"], c["Metrics"]["validation:rmse"])
            for c in outcome.output["Losers"]] == [("exp-2", 2.2), ("exp-0", 2.3)]
    (model,) = cloud.called("createModel")
    assert model["PrimaryContainer"]["ModelDataUrl"] == best["ModelDataUrl"]
    (deployment,) = cloud.called(deployed_by)
    assert deployment == {"EndpointName": "abalone", "EndpointConfigName": "exp"}
    assert entered(events)[-1] == ("Update endpoint" if existing else "Create endpoint")


def test_experiments_fail_with_the_reason_when_a_candidate_fails():
    cloud = Cloud(metrics={"*": {"validation:rmse": 2.0}},
                  failures={"exp-2": "AlgorithmError: max_depth='8' is out of range"})
    outcome, events = run_experiments(cloud)
    assert entered(events)[-1] == FAILED
    assert "max_depth='8' is out of range" in outcome.cause
    assert cloud.called("createModel") == []


def test_abalone_runs_the_notebooks_chain():
    cloud = Cloud(metrics={"*": {"train:rmse": 1.9, "validation:rmse": 2.2}})
    outcome, events = execute(abalone.build(PLACE, XGBOOST),
                              {"JobName": "ab-1", "ModelName": "ab-1", "EndpointName": "ab"},
                              cloud)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert entered(events) == ["Train Step", "Save model", "Transform Input Dataset",
                               "Create Endpoint Config", "Create Endpoint"]
    (model,) = cloud.called("createModel")
    assert model["PrimaryContainer"]["ModelDataUrl"] == \
        "s3://wf-bucket/wf/abalone/output/ab-1/output/model.tar.gz"
    assert cloud.endpoints == {"ab"}
