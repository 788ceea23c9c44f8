"""Training jobs through a real gateway: boto3 drives them, the toy image really runs."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, WaiterError
from jobs_kit import (
    TERMINAL,
    TOY_URI,
    channel,
    log_text,
    new_bucket,
    training_request,
    untar,
)
from testkit import unique, wait_until

WAIT = {"Delay": 1, "MaxAttempts": 120}
METRICS = [{"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
           {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+);"}]


@pytest.fixture
def bucket(s3):
    return new_bucket(s3)


def finished(sm, name: str) -> dict:
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name,
                                                            WaiterConfig=WAIT)
    return sm.describe_training_job(TrainingJobName=name)


def failed(sm, name: str) -> dict:
    with pytest.raises(WaiterError, match="Failed"):
        sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name,
                                                                WaiterConfig=WAIT)
    return sm.describe_training_job(TrainingJobName=name)


def error_code(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_training_job_trains_and_uploads_its_model(sm, s3, bucket, local_aws):
    s3.put_object(Bucket=bucket, Key="data/train/part-1.csv", Body=b"1,2\n3,4\n")
    s3.put_object(Bucket=bucket, Key="data/train/more/part-2.csv", Body=b"5,6\n")
    name = unique("train-ok")
    request = training_request(
        name, bucket, HyperParameters={"mode": "ok", "epochs": "3", "learning-rate": "0.1"},
        InputDataConfig=[channel("train", f"s3://{bucket}/data/train")],
        Environment={"EXTRA": "from the request"})
    request["AlgorithmSpecification"]["MetricDefinitions"] = METRICS
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}"

    job = finished(sm, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert job["CreationTime"] <= job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert job["BillableTimeInSeconds"] >= 1
    assert job["HyperParameters"]["learning-rate"] == "0.1"
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == METRICS
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics == {"train:loss": 0.25, "validation:accuracy": 0.875}

    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{bucket}/output/{name}/output/model.tar.gz"
    model = untar(s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")
                  ["Body"].read())
    assert sorted(model) == ["report.json", "weights/layer1.txt"]  # files at the archive root
    report = json.loads(model["report.json"])
    assert report["hyperparameters"] == {"mode": "ok", "epochs": "3", "learning-rate": "0.1"}
    assert report["channels"] == {"train": {"part-1.csv": "1,2\n3,4\n",
                                            "more/part-2.csv": "5,6\n"}}
    assert report["config"]["resourceconfig.json"]["current_host"] == "algo-1"
    assert report["config"]["resourceconfig.json"]["hosts"] == ["algo-1"]
    assert report["config"]["inputdataconfig.json"]["train"]["TrainingInputMode"] == "File"
    env = report["env"]
    assert json.loads(env["SM_HPS"]) == {"mode": "ok", "epochs": 3, "learning-rate": 0.1}
    assert env["SM_HP_EPOCHS"] == "3"
    assert env["SM_HP_LEARNING_RATE"] == "0.1"
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert int(env["SM_NUM_CPUS"]) >= 1
    assert env["SM_NUM_GPUS"] == "0"
    assert env["TRAINING_JOB_NAME"] == name
    assert env["TRAINING_JOB_ARN"] == arn
    assert env["AWS_REGION"] == "us-east-1"
    assert env["EXTRA"] == "from the request"
    assert report["cwd"] == str(local_aws.home / "toy-image")

    output = untar(s3.get_object(Bucket=bucket, Key=f"output/{name}/output/output.tar.gz")
                   ["Body"].read())
    assert output == {"extra.txt": b"more output"}
    assert "epoch 2: loss=0.25" in log_text(local_aws, "TrainingJobs", name)


def test_manifest_channel_and_checkpoints(sm, s3, bucket):
    for key in ("objects/a.csv", "objects/deep/b.csv", "objects/not-listed.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    manifest = [{"prefix": f"s3://{bucket}/objects/"}, "a.csv", "deep/b.csv"]
    s3.put_object(Bucket=bucket, Key="train.manifest", Body=json.dumps(manifest).encode())
    checkpoints = {"S3Uri": f"s3://{bucket}/checkpoints/"}
    names = [unique("train-ckpt") for _ in range(2)]
    reports = []
    for name in names:
        sm.create_training_job(**training_request(
            name, bucket, HyperParameters={"mode": "ok"}, CheckpointConfig=checkpoints,
            InputDataConfig=[channel("train", f"s3://{bucket}/train.manifest", "ManifestFile")]))
        assert finished(sm, name)["TrainingJobStatus"] == "Completed"
        model = untar(s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")
                      ["Body"].read())
        reports.append(json.loads(model["report.json"]))
    assert reports[0]["channels"]["train"] == {"a.csv": "objects/a.csv",
                                               "deep/b.csv": "objects/deep/b.csv"}
    # the first job's checkpoint went to S3 and came back for the second
    assert reports[0]["restored_checkpoints"] == []
    assert reports[1]["restored_checkpoints"] == [f"{names[0]}.ckpt"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="checkpoints/")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(f"checkpoints/{n}.ckpt" for n in names)


def test_failure_file_becomes_the_failure_reason(sm, bucket):
    name = unique("train-fail")
    sm.create_training_job(**training_request(name, bucket, HyperParameters={"mode": "fail"}))
    job = failed(sm, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    assert job["FailureReason"] == "Bad hyperparameter epochs: must be a positive integer"
    assert "ModelArtifacts" not in job or not job["ModelArtifacts"].get("S3ModelArtifacts")


def test_crash_without_failure_file_reports_exit_code_and_log(sm, bucket):
    name = unique("train-crash")
    sm.create_training_job(**training_request(name, bucket, HyperParameters={"mode": "crash"}))
    reason = failed(sm, name)["FailureReason"]
    assert reason.startswith("AlgorithmError: train exited with exit code 3")
    assert "about to crash" in reason


def test_unknown_image_fails_the_job_not_the_call(sm, bucket):
    name = unique("train-noimage")
    image = "000000000000.dkr.ecr.us-east-1.amazonaws.com/never-registered:1"
    assert sm.create_training_job(**training_request(name, bucket, image=image))
    job = failed(sm, name)
    assert image in job["FailureReason"]
    assert "sagepipe image register" in job["FailureReason"]


def test_missing_input_data_fails_with_a_clear_reason(sm, bucket):
    name = unique("train-nodata")
    uri = f"s3://{bucket}/nothing/here/"
    sm.create_training_job(**training_request(name, bucket,
                                              InputDataConfig=[channel("train", uri)]))
    job = failed(sm, name)
    assert job["FailureReason"].startswith("ClientError: Data download failed")
    assert uri in job["FailureReason"] and 'channel "train"' in job["FailureReason"]
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Failed"]


def test_stop_sends_sigterm_and_keeps_what_the_job_saved(sm, s3, bucket, local_aws):
    name = unique("train-stop")
    sm.create_training_job(**training_request(name, bucket, HyperParameters={"mode": "sleep"}))
    wait_until(lambda: log_text(local_aws, "TrainingJobs", name), lambda t: "sleeping" in t,
               "the job to start sleeping")
    sm.stop_training_job(TrainingJobName=name)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in (
        "Stopping", "Stopped")
    job = finished(sm, name)
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "Stopped"
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-2:] == [
        "Stopping", "Stopped"]
    model = untar(s3.get_object(Bucket=bucket, Key=f"output/{name}/output/model.tar.gz")
                  ["Body"].read())
    assert model == {"stopped.txt": b"saved on SIGTERM"}
    code, message = error_code(sm.stop_training_job, TrainingJobName=name)
    assert code == "ValidationException"
    assert "status Stopped" in message


def test_max_runtime_stops_the_job(sm, bucket):
    name = unique("train-maxrt")
    sm.create_training_job(**training_request(
        name, bucket, HyperParameters={"mode": "sleep"},
        StoppingCondition={"MaxRuntimeInSeconds": 1}))
    job = finished(sm, name)
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_duplicate_name_is_resource_in_use(sm, bucket):
    name = unique("train-dup")
    arn = sm.create_training_job(**training_request(name, bucket))["TrainingJobArn"]
    code, message = error_code(sm.create_training_job, **training_request(name, bucket))
    assert code == "ResourceInUse"
    assert arn in message
    finished(sm, name)


@pytest.mark.parametrize(("change", "words"), [
    (lambda r: r["AlgorithmSpecification"].pop("TrainingImage"), "TrainingImage is required"),
    (lambda r: r["ResourceConfig"].update(InstanceCount=2), "InstanceCount to 1"),
    (lambda r: r["OutputDataConfig"].update(S3OutputPath="https://example.com/out"),
     "S3OutputPath must be an s3:// URI"),
    (lambda r: r["AlgorithmSpecification"].update(
        MetricDefinitions=[{"Name": "loss", "Regex": "loss=([0-9"}]),
     "not a valid regular expression"),
    (lambda r: r.update(InputDataConfig=[channel("a", "s3://b/x"), channel("a", "s3://b/y")]),
     "must be unique"),
    (lambda r: r["AlgorithmSpecification"].update(TrainingInputMode="Pipe")
     or r.update(InputDataConfig=[channel("train", "s3://b/x")]), "Pipe input mode"),
    (lambda r: r.update(CheckpointConfig={"S3Uri": "s3://b/c", "LocalPath": "/tmp/c"}),
     "under /opt/ml"),
])
def test_invalid_requests_are_rejected_and_leave_nothing(sm, change, words):
    name = unique("train-invalid")
    request = training_request(name, "some-bucket")
    change(request)
    code, message = error_code(sm.create_training_job, **request)
    assert code == "ValidationException"
    assert words in message
    assert error_code(sm.describe_training_job, TrainingJobName=name)[0] == "ValidationException"


def test_list_training_jobs_filters_sorts_and_pages(sm, bucket):
    prefix = unique("lst")
    names = [f"{prefix}-{i}" for i in range(3)]
    bad_image = "000000000000.dkr.ecr.us-east-1.amazonaws.com/never-registered:1"
    arns = [sm.create_training_job(**training_request(
        name, bucket, image=bad_image if name == names[1] else TOY_URI))["TrainingJobArn"]
        for name in names]
    for name in names:
        wait_until(lambda n=name: sm.describe_training_job(TrainingJobName=n),
                   lambda d: d["TrainingJobStatus"] in TERMINAL, f"{name} to end")

    everything = sm.list_training_jobs(NameContains=prefix.upper(), MaxResults=100)
    summaries = everything["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in summaries] == names[::-1]  # newest first
    assert "NextToken" not in everything
    assert summaries[0]["TrainingJobArn"] == arns[2]
    assert set(summaries[0]) == {"TrainingJobName", "TrainingJobArn", "CreationTime",
                                 "TrainingEndTime", "LastModifiedTime", "TrainingJobStatus",
                                 "SecondaryStatus"}

    failed_only = sm.list_training_jobs(NameContains=prefix, StatusEquals="Failed")
    assert [s["TrainingJobName"] for s in failed_only["TrainingJobSummaries"]] == [names[1]]

    by_name = sm.list_training_jobs(NameContains=prefix, SortBy="Name", SortOrder="Ascending",
                                    MaxResults=2)
    assert [s["TrainingJobName"] for s in by_name["TrainingJobSummaries"]] == names[:2]
    rest = sm.list_training_jobs(NameContains=prefix, SortBy="Name", SortOrder="Ascending",
                                 MaxResults=2, NextToken=by_name["NextToken"])
    assert [s["TrainingJobName"] for s in rest["TrainingJobSummaries"]] == names[2:]
    assert "NextToken" not in rest

    created = [s["CreationTime"] for s in summaries[::-1]]
    between = created[0] + (created[1] - created[0]) / 2  # clear of the wire's rounding
    after = sm.list_training_jobs(NameContains=prefix, CreationTimeAfter=between)
    assert [s["TrainingJobName"] for s in after["TrainingJobSummaries"]] == names[:0:-1]
    before = sm.list_training_jobs(NameContains=prefix, CreationTimeBefore=between)
    assert [s["TrainingJobName"] for s in before["TrainingJobSummaries"]] == names[:1]

    pages = sm.get_paginator("list_training_jobs").paginate(
        NameContains=prefix, PaginationConfig={"PageSize": 1})
    assert [s["TrainingJobName"] for page in pages for s in page["TrainingJobSummaries"]] == \
        names[::-1]
