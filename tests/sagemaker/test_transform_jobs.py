"""Batch transform jobs that really run: the example model scores the Titanic test split, a
probe model server shows what SageMaker's batch contract gives a container."""

from __future__ import annotations

import csv
import json

import pytest
from botocore.exceptions import ClientError
from jobs_kit import ROLE, log_text, new_bucket, process_alive
from testkit import (
    MODEL_IMAGE_URI,
    TEST_DATA,
    client_for,
    register_stub_image,
    unique,
    wait_until,
)
from transform_kit import (
    abalone_libsvm,
    new_probe_dir,
    probe_model,
    read_lines,
    register_xgboost_image,
    requests_seen,
    run_transform,
    transform_request,
    wait_for_file,
)

TEST_ROWS = (TEST_DATA / "titanic_test.csv").read_text().splitlines()  # header + 268 rows
HEADER, ROWS = TEST_ROWS[0], TEST_ROWS[1:]


@pytest.fixture(scope="module")
def probe(local_aws) -> None:
    """The stub model server registered: probe_model's image."""
    register_stub_image(local_aws)


@pytest.fixture
def sm(aws):
    return aws("sagemaker")


@pytest.fixture
def bucket(s3) -> str:
    return new_bucket(s3)


@pytest.fixture(scope="module")
def titanic(local_aws, model_archive) -> str:
    """The example model trained on the Titanic training rows, as a SageMaker model."""
    s3, sm = client_for(local_aws, "s3"), client_for(local_aws, "sagemaker")
    bucket = new_bucket(s3)
    s3.upload_file(str(model_archive), bucket, "model/model.tar.gz")
    name = unique("titanic")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": MODEL_IMAGE_URI, "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz",
        "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}})
    return name


def put(s3, bucket: str, key: str, lines: list[str]) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body="".join(f"{line}\n" for line in lines).encode())
    return f"s3://{bucket}/{key}"


def predictions(lines: list[str]) -> list[tuple[int, float]]:
    """`label,probability` lines, checked to be predictions."""
    rows = [(int(label), float(probability)) for label, probability in csv.reader(lines)]
    assert all(label in (0, 1) and 0 <= probability <= 1 for label, probability in rows)
    return rows


def test_titanic_test_split_one_prediction_per_line_in_order(sm, s3, bucket, titanic):
    put(s3, bucket, "in/part-1.csv", ROWS[:134])
    put(s3, bucket, "in/more/part-2.csv", ROWS[134:])
    multi = run_transform(sm, transform_request(
        unique("titanic-multi"), titanic, f"s3://{bucket}/in/", f"s3://{bucket}/multi",
        accept="text/csv", BatchStrategy="MultiRecord", MaxPayloadInMB=1))
    assert multi["TransformJobStatus"] == "Completed", multi.get("FailureReason")
    assert multi["TransformEndTime"] >= multi["TransformStartTime"] >= multi["CreationTime"]
    first = predictions(read_lines(s3, f"s3://{bucket}/multi/part-1.csv.out"))
    second = predictions(read_lines(s3, f"s3://{bucket}/multi/more/part-2.csv.out"))
    assert (len(first), len(second)) == (134, 134)

    # One record per request, four at once: the same answers, in the same order.
    single = run_transform(sm, transform_request(
        unique("titanic-single"), titanic, f"s3://{bucket}/in/", f"s3://{bucket}/single",
        accept="text/csv", BatchStrategy="SingleRecord", MaxConcurrentTransforms=4))
    assert single["TransformJobStatus"] == "Completed", single.get("FailureReason")
    assert predictions(read_lines(s3, f"s3://{bucket}/single/part-1.csv.out")) == first
    assert predictions(read_lines(s3, f"s3://{bucket}/single/more/part-2.csv.out")) == second
    assert len({p for _, p in first + second}) > 10  # answers that differ: order shows

    # The whole file with its header in one request (SplitType None): the same predictions.
    whole = put(s3, bucket, "whole/titanic_test.csv", TEST_ROWS)
    none = run_transform(sm, transform_request(
        unique("titanic-whole"), titanic, whole, f"s3://{bucket}/whole-out", split="None",
        accept="text/csv"))
    assert none["TransformJobStatus"] == "Completed", none.get("FailureReason")
    assert predictions(read_lines(s3, f"s3://{bucket}/whole-out/titanic_test.csv.out")) == (
        first + second)


def test_manifest_file_names_the_objects(sm, s3, bucket, titanic):
    put(s3, bucket, "data/a.csv", ROWS[:10])
    put(s3, bucket, "data/b/c.csv", ROWS[10:25])
    put(s3, bucket, "data/ignored.csv", ["1,robot,1"])  # not listed: never sent
    manifest = json.dumps([{"prefix": f"s3://{bucket}/data/"}, "b/c.csv", "a.csv"])
    s3.put_object(Bucket=bucket, Key="manifest.json", Body=manifest.encode())
    job = run_transform(sm, transform_request(
        unique("titanic-manifest"), titanic, f"s3://{bucket}/manifest.json",
        f"s3://{bucket}/out", data_type="ManifestFile", accept="text/csv"))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["out/a.csv.out", "out/b/c.csv.out"]
    assert len(predictions(read_lines(s3, f"s3://{bucket}/out/b/c.csv.out"))) == 15


def test_join_source_input_appends_the_prediction_to_the_input_columns(sm, s3, bucket, titanic):
    source = put(s3, bucket, "join/rows.csv", ROWS[:40])
    job = run_transform(sm, transform_request(
        unique("titanic-join"), titanic, source, f"s3://{bucket}/joined", accept="text/csv",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"}))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["DataProcessing"]["JoinSource"] == "Input"
    joined = list(csv.reader(read_lines(s3, f"s3://{bucket}/joined/rows.csv.out")))
    assert [row[:4] for row in joined] == list(csv.reader(ROWS[:40]))
    assert len(predictions([",".join(row[4:]) for row in joined])) == 40

    # OutputFilter keeps the label column and the prediction's probability only.
    kept = run_transform(sm, transform_request(
        unique("titanic-filter"), titanic, source, f"s3://{bucket}/kept", accept="text/csv",
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input",
                        "OutputFilter": "$[0,-1]"}))
    assert kept["TransformJobStatus"] == "Completed", kept.get("FailureReason")
    rows = list(csv.reader(read_lines(s3, f"s3://{bucket}/kept/rows.csv.out")))
    assert rows == [[source_row[0], row[-1]] for source_row, row in
                    zip(csv.reader(ROWS[:40]), joined, strict=True)]


def test_a_rejected_record_fails_the_job_naming_the_object(sm, s3, bucket, titanic,
                                                           local_aws):
    put(s3, bucket, "in/good.csv", ROWS[:20])
    put(s3, bucket, "in/zbad.csv", [*ROWS[:5], "1,3,robot,29", *ROWS[5:10]])
    name = unique("titanic-bad")
    job = run_transform(sm, transform_request(name, titanic, f"s3://{bucket}/in/",
                                              f"s3://{bucket}/out", accept="text/csv"))
    assert job["TransformJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("ClientError: See job logs for more information")
    assert f"1 of 2 input object(s) failed; the first, {bucket}/in/zbad.csv: ClientError: 400" \
        in reason
    assert "line 6" in reason and "robot" in reason  # the model's own message
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]
    assert [o["Key"] for o in listed] == ["out/good.csv.out"]  # no partial output
    log = log_text(local_aws, "TransformJobs", name)
    assert f"[sagemaker logs]: {bucket}/in/zbad.csv: ClientError: 400" in log
    assert f"[sagemaker logs]: {bucket}/in/zbad.csv: Message:" in log


def test_probe_sees_the_batch_contract_and_concurrency(sm, s3, bucket, probe, tmp_path):
    probe_dir = new_probe_dir(tmp_path)
    model = probe_model(sm, probe_dir, STUB_CONCURRENCY="4")
    lines = [f"row-{i},{'x' * 20}" for i in range(40)]
    source = put(s3, bucket, "in/rows.csv", lines)
    job = run_transform(sm, transform_request(
        unique("probe-single"), model, source, f"s3://{bucket}/out", accept="text/csv",
        BatchStrategy="SingleRecord", MaxConcurrentTransforms=4, MaxPayloadInMB=2,
        Environment={"GREETING": "hi"}))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert read_lines(s3, f"s3://{bucket}/out/rows.csv.out") == [line.upper() for line in lines]
    assert (probe_dir / "peak").read_text() == "4"  # four at once, never more
    assert [r["records"] for r in requests_seen(probe_dir)] == [1] * 40
    env = json.loads((probe_dir / "env.json").read_text())
    assert env == {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "2",
                   "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD",
                   "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "4",
                   "SAGEMAKER_BIND_TO_PORT": env["SAGEMAKER_BIND_TO_PORT"],
                   "SAGEMAKER_MODEL_SERVER_WORKERS": env["SAGEMAKER_MODEL_SERVER_WORKERS"]}


def test_multi_record_batches_fill_max_payload_with_whole_lines(sm, s3, bucket, probe,
                                                               tmp_path, local_aws):
    probe_dir = new_probe_dir(tmp_path)
    model = probe_model(sm, probe_dir, STUB_EXECUTION_PARAMETERS=json.dumps(
        {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 1}))
    lines = [f"{i:06d},{'abcdefgh' * 12}" for i in range(30_000)]  # 104 bytes each: 2.98 MiB
    source = put(s3, bucket, "big/rows.csv", lines)
    name = unique("probe-multi")
    job = run_transform(sm, transform_request(name, model, source, f"s3://{bucket}/out",
                                              assemble="None"))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert read_lines(s3, f"s3://{bucket}/out/rows.csv.out") == [line.upper() for line in lines]
    seen = requests_seen(probe_dir)
    # As many whole lines as fit in 1 MiB (two requests at once: they may arrive in any order).
    assert sorted(r["records"] for r in seen) == [9_836, 10_082, 10_082]
    assert all(r["bytes"] <= 1024 * 1024 for r in seen)
    log = log_text(local_aws, "TransformJobs", name)
    assert ("[sagemaker logs]: MaxConcurrentTransforms=2, MaxPayloadInMB=1, "
            "BatchStrategy=MULTI_RECORD") in log  # what /execution-parameters asked for
    env = json.loads((probe_dir / "env.json").read_text())
    assert "SAGEMAKER_BATCH_STRATEGY" not in env  # set only when the request sets it


def test_json_lines_join_and_filters(sm, s3, bucket, probe, tmp_path):
    model = probe_model(sm, new_probe_dir(tmp_path))
    records = [{"id": i, "features": [i, i * 2]} for i in range(5)] + [[7, 8]]
    source = put(s3, bucket, "json/records.jsonl", [json.dumps(r) for r in records])
    job = run_transform(sm, transform_request(
        unique("probe-json"), model, source, f"s3://{bucket}/out",
        content_type="application/jsonlines", accept="application/jsonlines",
        DataProcessing={"InputFilter": "$.features", "JoinSource": "Input"}))
    assert job["TransformJobStatus"] == "Failed"  # the last record has no `features`
    assert "record 6: $.features: field 'features' needs an object" in job["FailureReason"]

    source = put(s3, bucket, "json/records.jsonl", [json.dumps(r) for r in records[:5]])
    job = run_transform(sm, transform_request(
        unique("probe-json"), model, source, f"s3://{bucket}/out",
        content_type="application/jsonlines", accept="application/jsonlines",
        DataProcessing={"InputFilter": "$.features", "JoinSource": "Input",
                        "OutputFilter": "$['id','SageMakerOutput']"}))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    out = [json.loads(line) for line in read_lines(s3, f"s3://{bucket}/out/records.jsonl.out")]
    assert out == [{"id": i, "SageMakerOutput": {"echo": [i, i * 2]}} for i in range(5)]


def test_stop_mid_job_ends_the_server_and_the_job_stopped(sm, s3, bucket, probe, tmp_path):
    probe_dir = new_probe_dir(tmp_path)
    model = probe_model(sm, probe_dir)
    source = put(s3, bucket, "in/rows.csv", ["a", "hold", "c"])
    name = unique("probe-stop")
    sm.create_transform_job(**transform_request(name, model, source, f"s3://{bucket}/out",
                                                BatchStrategy="SingleRecord"))
    pid = int(wait_for_file(probe_dir / "pid"))
    wait_until(lambda: requests_seen(probe_dir), lambda seen: len(seen) >= 2,
               "the held record to reach the model")
    assert sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == (
        "InProgress")
    sm.stop_transform_job(TransformJobName=name)
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    job = sm.describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Stopped"
    wait_until(lambda: process_alive(pid), lambda alive: not alive, "the server to end")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="out/")
    again = error_of(sm.stop_transform_job, TransformJobName=name)
    assert again == ("ValidationException",
                     "The request was rejected because the transform job is in status Stopped.")


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.mark.parametrize(("change", "code", "words"), [
    (lambda r: r.update(ModelName="no-such-model"), "ValidationException",
     'Could not find model "arn:aws:sagemaker:us-east-1:000000000000:model/no-such-model"'),
    (lambda r: r["TransformInput"].update(SplitType="RecordIO"), "NotImplemented",
     "SplitType RecordIO"),
    (lambda r: r["TransformInput"].update(SplitType="TFRecord"), "NotImplemented",
     "SplitType TFRecord"),
    (lambda r: r["TransformInput"]["DataSource"]["S3DataSource"].update(
        S3DataType="AugmentedManifestFile"), "NotImplemented", "AugmentedManifestFile"),
    (lambda r: r["TransformResources"].update(InstanceCount=2), "ValidationException",
     "InstanceCount to 1"),
    (lambda r: r.update(MaxPayloadInMB=101), "ValidationException", "greater than 100 MB"),
    (lambda r: r.update(MaxPayloadInMB=30, MaxConcurrentTransforms=4), "ValidationException",
     "cannot exceed 100 MB"),
    (lambda r: r.update(DataProcessing={"InputFilter": "$.a[?(@.b)]"}), "ValidationException",
     "neither indexes, a slice nor quoted names"),
    (lambda r: r.update(DataProcessing={"JoinSource": "Input"}) or r["TransformInput"].update(
        SplitType="None"), "ValidationException", "set TransformInput.SplitType to Line"),
    (lambda r: r["TransformOutput"].update(S3OutputPath="https://example.com/x"),
     "ValidationException", "S3OutputPath must be an s3:// URI"),
])
def test_invalid_requests_are_refused_and_leave_nothing(sm, probe, tmp_path, change, code,
                                                        words):
    name = unique("refused")
    request = transform_request(name, probe_model(sm, new_probe_dir(tmp_path)),
                                "s3://some-bucket/in/", "s3://some-bucket/out",
                                accept="text/csv")
    change(request)
    refused_code, message = error_of(sm.create_transform_job, **request)
    assert (refused_code, words in message) == (code, True), message
    assert error_of(sm.describe_transform_job, TransformJobName=name) == (
        "ValidationException", "Requested resource not found.")


def test_an_empty_prefix_fails_the_job_as_sagemaker_words_it(sm, bucket, probe, tmp_path):
    model = probe_model(sm, new_probe_dir(tmp_path))
    job = run_transform(sm, transform_request(unique("empty"), model, f"s3://{bucket}/none/",
                                              f"s3://{bucket}/out"))
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "s3://{bucket}/none/"')


def test_list_transform_jobs_filters_sorts_and_pages(sm, s3, bucket, probe, tmp_path):
    model = probe_model(sm, new_probe_dir(tmp_path))
    source = put(s3, bucket, "in/rows.csv", ["a", "b"])
    prefix = unique("lst")
    names = [f"{prefix}-{i}" for i in range(3)]
    for name in names:
        run_transform(sm, transform_request(name, model, source, f"s3://{bucket}/out/{name}"))
    run_transform(sm, transform_request(f"{prefix}-failed", model, f"s3://{bucket}/nothing/",
                                        f"s3://{bucket}/out/x"))
    completed = sm.list_transform_jobs(NameContains=prefix, StatusEquals="Completed",
                                       SortBy="Name", SortOrder="Ascending", MaxResults=2)
    assert [j["TransformJobName"] for j in completed["TransformJobSummaries"]] == names[:2]
    rest = sm.list_transform_jobs(NameContains=prefix, StatusEquals="Completed", SortBy="Name",
                                  SortOrder="Ascending", MaxResults=2,
                                  NextToken=completed["NextToken"])
    assert [j["TransformJobName"] for j in rest["TransformJobSummaries"]] == names[2:]
    assert "NextToken" not in rest
    [failed] = sm.list_transform_jobs(NameContains=prefix,
                                      StatusEquals="Failed")["TransformJobSummaries"]
    assert failed["TransformJobName"] == f"{prefix}-failed"
    assert "No S3 objects found" in failed["FailureReason"]
    newest = sm.list_transform_jobs(NameContains=prefix)["TransformJobSummaries"]
    assert [j["TransformJobName"] for j in newest] == [f"{prefix}-failed", *names[::-1]]


def test_xgboost_image_scores_libsvm_one_prediction_per_row(sm, s3, bucket, local_aws):
    """The XGBoost image trained by a training job on abalone, then scoring libsvm rows."""
    image = register_xgboost_image(local_aws)
    train, test = abalone_libsvm()
    put(s3, bucket, "train/abalone.libsvm", train)
    name = unique("xgb-train")
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        HyperParameters={"num_round": "10", "objective": "reg:squarederror"},
        InputDataConfig=[{"ChannelName": "train", "ContentType": "text/libsvm",
                          "DataSource": {"S3DataSource": {
                              "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train/"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/model"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    trained = sm.describe_training_job(TrainingJobName=name)
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    model = unique("xgb")
    sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": image, "ModelDataUrl": trained["ModelArtifacts"]["S3ModelArtifacts"],
        "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}})
    source = put(s3, bucket, "test/abalone.libsvm", test)
    job = run_transform(sm, transform_request(unique("xgb-transform"), model, source,
                                              f"s3://{bucket}/scored",
                                              content_type="text/libsvm", accept="text/csv"))
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    scores = [float(line) for line in read_lines(s3, f"s3://{bucket}/scored/abalone.libsvm.out")]
    assert len(scores) == len(test)
    rings = [float(line.split()[0]) for line in test]
    error = sum(abs(s - r) for s, r in zip(scores, rings, strict=True)) / len(rings)
    baseline = sum(abs(sum(rings) / len(rings) - r) for r in rings) / len(rings)
    assert error < baseline  # a model that learned something, row by row in order

