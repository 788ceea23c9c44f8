"""Processing jobs through a real gateway: inputs in, the entry point run, outputs out."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, WaiterError
from jobs_kit import (
    log_text,
    new_bucket,
    processing_request,
)
from testkit import unique, wait_until

WAIT = {"Delay": 1, "MaxAttempts": 120}


@pytest.fixture
def bucket(s3):
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="raw/passengers.csv", Body=b"name,class\nada,1\nbob,3\n")
    s3.put_object(Bucket=bucket, Key="raw/2024/more.csv", Body=b"name,class\ncy,2\n")
    return bucket


def wait(sm, name: str) -> dict:
    sm.get_waiter("processing_job_completed_or_stopped").wait(ProcessingJobName=name,
                                                              WaiterConfig=WAIT)
    return sm.describe_processing_job(ProcessingJobName=name)


def rejected(sm, request: dict) -> str:
    with pytest.raises(ClientError) as caught:
        sm.create_processing_job(**request)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    return caught.value.response["Error"]["Message"]


def test_processing_job_reads_inputs_and_uploads_outputs(sm, s3, bucket, local_aws):
    name = unique("proc-ok")
    arn = sm.create_processing_job(**processing_request(
        name, bucket, Environment={"GREETING": "hello"}))["ProcessingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:processing-job/{name}"
    job = wait(sm, name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ExitMessage"] == "processed 5 rows"
    assert job["CreationTime"] <= job["ProcessingStartTime"] <= job["ProcessingEndTime"]
    assert job["Environment"] == {"GREETING": "hello"}
    assert job["AppSpecification"]["ContainerEntrypoint"] == ["process"]

    def read(key: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    listed = s3.list_objects_v2(Bucket=bucket, Prefix="clean/")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["clean/job.json", "clean/more.csv",
                                                "clean/passengers.csv"]
    assert read("clean/passengers.csv") == b"NAME,CLASS\nADA,1\nBOB,3\n"
    assert read("clean/more.csv") == b"NAME,CLASS\nCY,2\n"
    seen = json.loads(read("clean/job.json"))
    assert seen == {"job": name, "greeting": "hello",
                    "argv": ["--input", "/opt/ml/processing/input/raw",
                             "--output", "/opt/ml/processing/output/clean"]}
    assert "mode=ok" in log_text(local_aws, "ProcessingJobs", name)


def test_processing_failure_reports_the_message_file(sm, s3, bucket):
    name = unique("proc-fail")
    sm.create_processing_job(**processing_request(name, bucket, Environment={"MODE": "fail"}))
    with pytest.raises(WaiterError, match="Failed"):
        wait(sm, name)
    job = sm.describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "Input has no header row"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="clean/")


def test_stop_processing_job(sm, s3, bucket, local_aws):
    name = unique("proc-stop")
    sm.create_processing_job(**processing_request(name, bucket, Environment={"MODE": "sleep"}))
    wait_until(lambda: log_text(local_aws, "ProcessingJobs", name), lambda t: "sleeping" in t,
               "the job to start sleeping")
    sm.stop_processing_job(ProcessingJobName=name)
    job = wait(sm, name)
    assert job["ProcessingJobStatus"] == "Stopped"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="clean/")
    with pytest.raises(ClientError) as caught:
        sm.stop_processing_job(ProcessingJobName=name)
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_processing_max_runtime(sm, bucket):
    name = unique("proc-maxrt")
    sm.create_processing_job(**processing_request(
        name, bucket, Environment={"MODE": "sleep"},
        StoppingCondition={"MaxRuntimeInSeconds": 1}))
    job = wait(sm, name)
    assert job["ProcessingJobStatus"] == "Stopped"
    assert job["FailureReason"].startswith("MaxRuntimeExceeded")


def test_missing_input_fails_the_job(sm):
    bucket = "no-such-bucket-for-jobs"
    name = unique("proc-nodata")
    sm.create_processing_job(**processing_request(name, bucket))
    with pytest.raises(WaiterError, match="Failed"):
        wait(sm, name)
    reason = sm.describe_processing_job(ProcessingJobName=name)["FailureReason"]
    assert reason.startswith('ClientError: Data download failed for input "raw"')
    assert bucket in reason


def test_entry_point_is_required_locally(sm, bucket):
    name = unique("proc-noentry")
    request = processing_request(name, bucket)
    del request["AppSpecification"]["ContainerEntrypoint"]
    assert "ContainerEntrypoint is required" in rejected(sm, request)
    with pytest.raises(ClientError) as caught:
        sm.describe_processing_job(ProcessingJobName=name)
    assert caught.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(("change", "words"), [
    (lambda r: r["ProcessingInputs"][0]["S3Input"].update(LocalPath="/etc/raw"),
     "under /opt/ml/processing"),
    (lambda r: r["ProcessingOutputConfig"]["Outputs"][0]["S3Output"].update(
        LocalPath="/opt/ml/processing/../model"), "under /opt/ml/processing"),
    (lambda r: r["ProcessingInputs"].append(dict(r["ProcessingInputs"][0])), "must be unique"),
    (lambda r: r["ProcessingInputs"][0]["S3Input"].update(S3InputMode="Pipe"), "Pipe"),
    (lambda r: r["ProcessingResources"]["ClusterConfig"].update(InstanceCount=3),
     "InstanceCount to 1"),
])
def test_invalid_processing_requests(sm, bucket, change, words):
    request = processing_request(unique("proc-invalid"), bucket)
    change(request)
    assert words in rejected(sm, request)


def test_list_and_describe_processing_jobs(sm, bucket):
    prefix = unique("plist")
    names = [f"{prefix}-ok", f"{prefix}-fail"]
    sm.create_processing_job(**processing_request(names[0], bucket))
    sm.create_processing_job(**processing_request(names[1], bucket, Environment={"MODE": "fail"}))
    for name in names:
        wait_until(lambda n=name: sm.describe_processing_job(ProcessingJobName=n),
                   lambda d: d["ProcessingJobStatus"] in ("Completed", "Failed"), name)
    listed = sm.list_processing_jobs(NameContains=prefix)["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in listed] == names[::-1]
    assert listed[0]["FailureReason"] == "Input has no header row"
    failed = sm.list_processing_jobs(NameContains=prefix, StatusEquals="Failed")
    assert [s["ProcessingJobName"] for s in failed["ProcessingJobSummaries"]] == names[1:]
