"""workflows/images/xgboost: SageMaker's built-in XGBoost contract (hyperparameters as strings,
csv/libsvm channels with the label first, `xgboost-model`, the metric lines its metric
definitions parse, and its /invocations answers), trained on the committed abalone data."""

from __future__ import annotations

import io
import re
import tarfile
import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import xgboost
from testkit import register_image
from xgboost_kit import IMAGE_DIR, Job, Split, abalone_splits, start_server, stop, train

CSV, LIBSVM, JSON = "text/csv", "text/libsvm", "application/json"
# As the DS SDK's abalone notebook sets them (num_round lower, to keep the tests quick).
HYPERPARAMETERS = {"num_round": "30", "objective": "reg:squarederror", "max_depth": "5",
                   "eta": "0.2", "gamma": "4", "min_child_weight": "6", "subsample": "0.8",
                   "seed": "0"}
# The metric definitions SageMaker uses for the built-in algorithm (validation metrics end the
# line, so (\S+) is enough; train metrics are followed by #011validation-...).
METRIC = r".*\[[0-9]+\].*#011{}-rmse:(\S+)"
METRIC_DEFINITIONS = [
    {"Name": "train:rmse",
     "Regex": r".*\[[0-9]+\].*#011train-rmse:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"},
    {"Name": "validation:rmse", "Regex": METRIC.format("validation")},
]
ROUND = re.compile(r"\[([0-9]+)\]#011train-rmse:([0-9.]+)#011validation-rmse:([0-9.]+)")
MAX_BODY = 6 * 1024 * 1024
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"


@pytest.fixture(scope="module")
def splits() -> dict[str, Split]:
    return abalone_splits()


def channels(splits: dict[str, Split], content_type: str) -> dict[str, tuple[str, str]]:
    return {name: (split.csv() if content_type == CSV else split.libsvm(), content_type)
            for name, split in splits.items()}


def load(job: Job) -> xgboost.Booster:
    return xgboost.Booster(model_file=bytearray((job.model_dir / "xgboost-model").read_bytes()))


def predict(booster: xgboost.Booster, split: Split) -> list[float]:
    return booster.predict(xgboost.DMatrix(split.features)).tolist()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, splits) -> Job:
    job = train(tmp_path_factory.mktemp("csv-job"), channels(splits, CSV), HYPERPARAMETERS)
    assert job.done.returncode == 0, job.done.stderr
    return job


@pytest.fixture(scope="module")
def server(trained) -> Iterator[httpx.Client]:
    process, url = start_server(trained.model_dir)
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client
    stop(process)


def invoke(server: httpx.Client, body: str | bytes, content_type: str = CSV,
           **headers: str) -> httpx.Response:
    return server.post("/invocations", content=body.encode() if isinstance(body, str) else body,
                       headers={"Content-Type": content_type, **headers})


# -- training ---------------------------------------------------------------------------------

def test_training_saves_xgboost_model(trained, splits):
    assert sorted(path.name for path in trained.model_dir.iterdir()) == ["xgboost-model"]
    booster = load(trained)
    assert booster.num_features() == 10 and booster.num_boosted_rounds() == 30
    rmse = float(np.sqrt(np.mean((np.array(predict(booster, splits["validation"]))
                                  - splits["validation"].labels) ** 2)))
    assert rmse < 2.5  # rings range 1..29; predicting the mean gives ~3.2


def test_metric_lines_are_found_by_the_built_in_metric_definitions(trained, splits):
    lines = trained.done.stdout.splitlines()
    rounds = [ROUND.fullmatch(line) for line in lines if line.startswith("[")]
    assert all(rounds) and [int(match[1]) for match in rounds] == list(range(30))
    validation = [float(re.match(METRIC.format("validation"), line)[1]) for line in lines
                  if re.match(METRIC.format("validation"), line)]
    assert validation == [float(match[3]) for match in rounds]
    # The last line reports the saved model's own error on the validation rows.
    own = np.sqrt(np.mean((np.array(predict(load(trained), splits["validation"]))
                           - splits["validation"].labels) ** 2))
    assert abs(validation[-1] - own) < 1e-4
    train_rmse = [float(match[2]) for match in rounds]
    assert train_rmse[-1] < train_rmse[0]


def test_libsvm_channels_train_the_same_model(tmp_path, trained, splits):
    job = train(tmp_path, channels(splits, LIBSVM), HYPERPARAMETERS)
    assert job.done.returncode == 0, job.done.stderr
    assert predict(load(job), splits["validation"]) == predict(load(trained), splits["validation"])


def test_early_stopping_keeps_the_best_round(tmp_path, splits):
    job = train(tmp_path, channels(splits, CSV),
                {**HYPERPARAMETERS, "num_round": "300", "eta": "0.5",
                 "early_stopping_rounds": "5", "eval_metric": "rmse,mae"})
    assert job.done.returncode == 0, job.done.stderr
    scores = [float(m) for m in re.findall(r"#011validation-mae:(\S+)", job.done.stdout)]
    assert "#011validation-rmse:" in job.done.stdout and 5 < len(scores) < 300
    assert load(job).num_boosted_rounds() == len(scores) - 5  # the best round and those before


@pytest.mark.parametrize(("hyperparameters", "reason"), [
    ({"objective": "reg:squarederror"}, "hyperparameter num_round is required"),
    ({"num_round": "ten"}, "hyperparameter num_round='ten' is not an integer >= 1"),
    ({"num_round": "1.5"}, "num_round='1.5' is not an integer >= 1"),
    ({"num_round": "0"}, "num_round='0' is out of range: expected an integer >= 1"),
    ({"num_round": "5", "eta": "fast"}, "eta='fast' is not a number >= 0 and <= 1"),
    ({"num_round": "5", "subsample": "0"}, "subsample='0' is out of range: expected a number "
                                           "> 0 and <= 1"),
    ({"num_round": "5", "objective": "reg:linearr"}, "objective='reg:linearr' is not one of"),
    ({"num_round": "5", "silent": "0"}, "unknown hyperparameter(s) silent; accepted:"),
    ({"num_round": "5", "objective": "multi:softmax"}, "needs the hyperparameter num_class"),
    ({"num_round": "5", "eval_metric": "rmse,accuracy"}, "accuracy is not an XGBoost "
                                                         "evaluation metric"),
    ({"num_round": "5", "early_stopping_rounds": "3", "max_depth": "-1"},
     "max_depth='-1' is out of range"),
    ({"num_round": "5", "objective": "binary:logistic"},
     "XGBoost refused the data or hyperparameters"),
])
def test_bad_hyperparameters_fail_the_job_with_the_reason(tmp_path, splits, hyperparameters,
                                                          reason):
    job = train(tmp_path, channels(splits, CSV), hyperparameters)
    assert job.done.returncode == 1
    assert reason in job.failure
    assert not (job.model_dir / "xgboost-model").exists()


def test_bad_data_fails_the_job_with_the_file_line_and_column(tmp_path, splits):
    labelled = splits["train"].csv()
    cases = {
        "header": ({"train": ("rings,F,I,M\n" + labelled, CSV)},
                   "channel 'train' file train.data: line 1, column 1: 'rings' is not a number "
                   "(CSV channels have no header row; the label is the first column)"),
        "ragged": ({"train": (labelled + "1,2\n", CSV)},
                   f"line {len(splits['train'].labels) + 1}: 2 values, line 1 has 11"),
        "no label": ({"train": ("," + labelled.split(",", 1)[1], CSV)},
                     "line 1, column 1: is missing"),
        "libsvm token": ({"train": ("3 0:1 x\n", LIBSVM)},
                         "line 1: 'x' is not index:value"),
        "content type": ({"train": (labelled, "application/json")},
                         "ContentType 'application/json' is not supported"),
        "no train": ({"validation": (labelled, CSV)}, "missing channel 'train'"),
        "widths": ({"train": (labelled, CSV), "validation": ("1,2,3\n", CSV)},
                   "channel 'validation' has 2 feature columns, 'train' has 10"),
        "early stopping": ({"train": (labelled, CSV)}, "early_stopping_rounds needs a "
                                                       "'validation' channel"),
    }
    for number, (name, (given, reason)) in enumerate(cases.items()):
        settings = {"num_round": "2", **({"early_stopping_rounds": "2"}
                                         if name == "early stopping" else {})}
        job = train(tmp_path / str(number), given, settings)
        assert job.done.returncode == 1, name
        assert reason in job.failure, (name, job.failure)


# -- serving ----------------------------------------------------------------------------------

def test_serves_csv_and_libsvm_as_xgboost_predicts(server, trained, splits):
    validation = splits["validation"]
    expected = predict(load(trained), validation)
    for body, content_type in ((validation.csv(label=False), CSV),
                               (validation.libsvm(label=False), LIBSVM),
                               (validation.libsvm(label=True), LIBSVM),  # labels are ignored
                               (validation.libsvm(label=False), "text/x-libsvm")):
        response = invoke(server, body, content_type)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == CSV
        assert response.text == ",".join(map(str, expected))  # as the built-in: one line
    answer = invoke(server, validation.csv(label=False), CSV, Accept=JSON)
    assert answer.headers["Content-Type"] == JSON and answer.json() == expected
    assert invoke(server, validation.csv(label=False), "").text == response.text  # csv default


def test_missing_values_are_left_to_the_trees(server, trained, splits):
    rows = splits["validation"].features[:3].copy()
    rows[0, 4], rows[1, 0], rows[2, 9] = np.nan, np.nan, np.nan
    body = "".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n"
                   for row in rows)
    expected = load(trained).predict(xgboost.DMatrix(rows)).tolist()
    assert invoke(server, body.replace(",,", ",nan,", 1)).text == ",".join(map(str, expected))
    sparse_body = "".join(" ".join(f"{i}:{float(v)!r}" for i, v in enumerate(row)
                                   if not np.isnan(v)) + "\n" for row in rows)
    assert invoke(server, sparse_body, LIBSVM).text == ",".join(map(str, expected))


def test_a_batch_transform_gets_one_prediction_per_line(trained, splits):
    validation = splits["validation"]
    process, url = start_server(trained.model_dir, SAGEMAKER_BATCH="true")
    try:
        response = httpx.post(f"{url}/invocations", content=validation.csv(label=False),
                              headers={"Content-Type": CSV}, timeout=60)
    finally:
        stop(process)
    assert response.text == "".join(f"{value}\n" for value in predict(load(trained), validation))


@pytest.mark.parametrize(("content_type", "body", "status", "message"), [
    (CSV, "1,2,3\n", 400, "rows have 3 values, the model takes 10 features (send the features "
                          "only: no label column, no header)"),
    (CSV, "F,I,M,length,diameter,height,whole,shucked,viscera,shell\n", 400,
     "line 1, column 1: 'F' is not a number"),
    (CSV, "0,0,1,0.5,0.4,0.1,0.5,0.2,0.1,0.2\n0,1,0,0.5,x,0.1,0.5,0.2,0.1,0.2\n", 400,
     "line 2, column 5: 'x' is not a number"),
    (CSV, "0,0,1,0.5,0.4,0.1,0.5,0.2,0.1,0.2\n0,1\n", 400, "line 2: 2 values, line 1 has 10"),
    (CSV, "0,0,1,0.5,0.4,0.1,0.5,0.2,0.1,1e999\n", 400, "'1e999' is not a finite"),
    (CSV, "", 400, "empty body: send rows of 10 features"),
    (CSV, b"0,\xff\n", 400, "not UTF-8 text"),
    (LIBSVM, "0:1 10:0.5\n", 400, "line 1: feature index 10 is beyond the model's 10 features "
                                  "(indices 0 to 9)"),
    (LIBSVM, "0:1 0:2\n", 400, "line 1: feature index 0 appears twice"),
    (LIBSVM, "7 0:1 -1:2\n", 400, "line 1: '-1:2' is not index:value"),
    (LIBSVM, "0:1 3:abc\n", 400, "line 1, feature 3: 'abc' is not a number"),
    (JSON, '{"instances": [[1, 2]]}', 415, "Content-Type application/json is not supported; "
                                           "send text/csv (rows of 10 features"),
])
def test_bad_requests_get_4xx_with_what_is_wrong(server, content_type, body, status, message):
    response = invoke(server, body, content_type)
    assert response.status_code == status
    assert message in response.text


def test_unacceptable_accept_is_406_and_large_bodies_413(server, splits):
    row = splits["validation"].csv(label=False).splitlines()[0] + "\n"
    refused = invoke(server, row, CSV, Accept="text/html")
    assert refused.status_code == 406 and "ask for text/csv or application/json" in refused.text
    assert invoke(server, row, CSV, Accept="text/html, application/json;q=0.5").json()
    padded = (row * (MAX_BODY // len(row) + 1)).encode()
    assert invoke(server, padded[:MAX_BODY], CSV).status_code in (200, 400)  # at the limit: read
    too_large = invoke(server, padded, CSV)
    assert too_large.status_code == 413 and "larger than 6291456 bytes" in too_large.text
    chunked = server.post("/invocations", content=iter([padded[:MAX_BODY], padded[MAX_BODY:]]),
                          headers={"Content-Type": CSV})
    assert chunked.status_code == 413


def test_routes_and_a_missing_model(server, tmp_path):
    assert server.get("/ping").status_code == 200
    assert server.get("/invocations").status_code == 405
    assert server.get("/predict").status_code == 404
    with pytest.raises(AssertionError, match=r"cannot load the model: cannot read .*xgboost-model"):
        start_server(tmp_path)


def test_the_image_has_its_entry_points_and_pins_what_runs_here():
    for entry_point in ("train", "serve"):
        assert (IMAGE_DIR / entry_point).stat().st_mode & 0o111
    pins = dict(line.split("==") for line in (IMAGE_DIR / "requirements.txt").read_text()
                .splitlines() if line and not line.startswith("#"))
    assert pins["xgboost-cpu"] == xgboost.__version__


# -- on the local AWS, as the abalone workflow will run it ------------------------------------

def test_a_training_job_reports_the_metrics_and_its_endpoint_answers(aws, local_aws, splits):
    """The built-in's metric definitions find the values; the model serves behind a real
    endpoint (image registered as a workflow registers it)."""
    uri = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-xgboost:test"
    register_image(local_aws, IMAGE_DIR, uri)
    s3, sm = aws("s3"), aws("sagemaker")
    name = f"abalone-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    for split in ("train", "validation"):
        s3.put_object(Bucket=name, Key=f"{split}/{split}.csv", Body=splits[split].csv())
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE, HyperParameters=HYPERPARAMETERS,
        AlgorithmSpecification={"TrainingImage": uri, "TrainingInputMode": "File",
                                "MetricDefinitions": METRIC_DEFINITIONS},
        InputDataConfig=[{"ChannelName": split, "ContentType": CSV, "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{name}/{split}/"}}}
            for split in ("train", "validation")],
        OutputDataConfig={"S3OutputPath": f"s3://{name}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(metrics) == {"train:rmse", "validation:rmse"}
    assert 1 < metrics["train:rmse"] < metrics["validation:rmse"] < 2.5
    bucket, _, key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").partition("/")
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                      ) as archive:
        assert archive.getnames() == ["xgboost-model"]
        booster = xgboost.Booster(model_file=bytearray(
            archive.extractfile("xgboost-model").read()))

    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": uri, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    try:
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        rows = Split(splits["validation"].labels[:5], splits["validation"].features[:5])
        answer = aws("sagemaker-runtime").invoke_endpoint(
            EndpointName=name, ContentType=CSV, Body=rows.csv(label=False))
        assert answer["Body"].read().decode() == ",".join(map(str, predict(booster, rows)))
    finally:
        sm.delete_endpoint(EndpointName=name)
