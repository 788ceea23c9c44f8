"""The real example model as SageMaker jobs: `prepare` processes the Titanic CSV, `train` trains."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import WaiterError
from jobs_kit import ROLE, channel, new_bucket, training_request, untar
from testkit import TEST_DATA, register_image, unique

from sagepipe.clients import client

# The repository's model/ directory, registered by these tests under an image URI of their own.
MODEL_IMAGE_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-model:jobs-test"
WAIT = {"Delay": 1, "MaxAttempts": 300}
SPLITS = ("train", "validation", "test", "preprocessor", "report")
METRICS = [{"Name": name, "Regex": rf"{name}=([0-9.]+);"}
           for name in ("train:accuracy", "validation:accuracy", "validation:f1",
                        "validation:auc")]


@pytest.fixture(scope="module")
def prepared(local_aws, pytestconfig):
    """The Titanic training CSV uploaded and run through `prepare` as a processing job."""
    repo = pytestconfig.rootpath
    register_image(local_aws, repo / "model", MODEL_IMAGE_URI)
    sm, s3 = client(local_aws, "sagemaker"), client(local_aws, "s3")
    bucket = new_bucket(s3)
    titanic = TEST_DATA / "titanic_train.csv"
    s3.upload_file(str(titanic), bucket, "raw/titanic_train.csv")
    name = unique("titanic-prepare")
    sm.create_processing_job(
        ProcessingJobName=name, RoleArn=ROLE,
        AppSpecification={"ImageUri": MODEL_IMAGE_URI, "ContainerEntrypoint": ["prepare"]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1,
                                               "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 1}},
        ProcessingInputs=[{"InputName": "raw", "S3Input": {
            "S3Uri": f"s3://{bucket}/raw/", "LocalPath": "/opt/ml/processing/input/raw",
            "S3DataType": "S3Prefix"}}],
        ProcessingOutputConfig={"Outputs": [
            {"OutputName": split, "S3Output": {
                "S3Uri": f"s3://{bucket}/prepared/{split}",
                "LocalPath": f"/opt/ml/processing/output/{split}",
                "S3UploadMode": "EndOfJob"}} for split in SPLITS]})
    sm.get_waiter("processing_job_completed_or_stopped").wait(ProcessingJobName=name,
                                                              WaiterConfig=WAIT)
    job = sm.describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    return bucket


def train_request(name: str, bucket: str, hyperparameters: dict[str, str]) -> dict:
    request = training_request(
        name, bucket, image=MODEL_IMAGE_URI, HyperParameters=hyperparameters,
        InputDataConfig=[channel(split, f"s3://{bucket}/prepared/{split}")
                         for split in ("train", "validation", "preprocessor")])
    request["AlgorithmSpecification"]["MetricDefinitions"] = METRICS
    return request


def test_prepare_writes_the_splits_to_s3(aws, prepared):
    s3 = aws("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=prepared, Prefix="prepared/")
            ["Contents"]}
    assert {"prepared/train/train.csv", "prepared/validation/validation.csv",
            "prepared/test/test.csv", "prepared/preprocessor/preprocessor.json"} <= keys
    report = json.loads(s3.get_object(Bucket=prepared, Key="prepared/report/"
                                      "validation_report.json")["Body"].read())
    assert report["rows_out"] > 500


def test_real_model_trains_as_a_training_job(aws, prepared):
    sm, s3 = aws("sagemaker"), aws("s3")
    name = unique("titanic-train")
    sm.create_training_job(**train_request(name, prepared, {
        "n_estimators": "50", "max_depth": "6", "random_state": "7"}))
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name,
                                                            WaiterConfig=WAIT)
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(metrics) == {m["Name"] for m in METRICS}
    assert 0.6 < metrics["validation:accuracy"] <= 1.0  # a model that learned something

    model = untar(s3.get_object(Bucket=prepared, Key=f"output/{name}/output/model.tar.gz")
                  ["Body"].read())
    assert {"model.onnx", "preprocessor.json", "metadata.json"} <= set(model)
    metadata = json.loads(model["metadata.json"])
    assert metadata["model_version"] == name
    assert metadata["hyperparameters"]["n_estimators"] == 50
    output = untar(s3.get_object(Bucket=prepared, Key=f"output/{name}/output/output.tar.gz")
                   ["Body"].read())
    assert json.loads(output["evaluation.json"])["metrics"]["validation:accuracy"] == \
        pytest.approx(metrics["validation:accuracy"], abs=1e-4)


def test_real_model_bad_hyperparameter_fails_with_its_reason(aws, prepared):
    sm = aws("sagemaker")
    name = unique("titanic-bad")
    sm.create_training_job(**train_request(name, prepared, {"n_estimators": "many"}))
    with pytest.raises(WaiterError, match="Failed"):
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name,
                                                                WaiterConfig=WAIT)
    reason = sm.describe_training_job(TrainingJobName=name)["FailureReason"]
    assert reason.startswith("hyperparameter n_estimators='many' is not an integer")
