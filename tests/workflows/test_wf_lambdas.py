"""The workflows' Lambda handlers as Python: the retail preparation on generated Online Retail
rows (S3 by moto), the metric check on DescribeTrainingJob responses (a real client, its
response checked against botocore's model by Stubber), the pick of the best candidate; and the
data generator and the deployment package they ship in."""

from __future__ import annotations

import csv
import io
import zipfile
import zlib

import boto3
import check_metric
import pick_best
import prepare_retail_data
import pytest
from metrics import MetricNotFound
from moto import mock_aws
from workflows_kit import PLACE, XGBOOST, stubbed_describe, training_job

from workflows import functions
from workflows.experiments import PICK
from workflows.retail.data import COLUMNS, generate, to_csv
from workflows.retail.workflow import CHECK, PREPARE
from workflows.states import XGBOOST_METRICS, training_request


def job(name: str = "retail-1", **metrics: float) -> dict:
    request = {**training_request(XGBOOST, PLACE.sagemaker_role_arn, PLACE.uri("models"),
                                  "ml.m5.large", XGBOOST_METRICS), "TrainingJobName": name}
    return training_job(request, {k.replace("_", ":"): v for k, v in metrics.items()})


# -- the generator ----------------------------------------------------------------------------

def test_generated_rows_have_the_online_retail_schema_and_quirks():
    rows = generate()
    assert rows == generate() and rows != generate(seed=8)
    assert list(csv.DictReader(io.StringIO(to_csv(rows).decode())).fieldnames) == list(COLUMNS)
    cancelled = [r for r in rows if r["InvoiceNo"].startswith("C")]
    assert cancelled and all(int(r["Quantity"]) < 0 for r in cancelled)
    assert any(not r["CustomerID"] for r in rows)
    assert all(float(r["UnitPrice"]) > 0 for r in rows)
    assert rows[0]["InvoiceDate"].startswith("12/1/2010 ")
    # A product's price depends on its size: the model has something to learn.
    jumbo = [float(r["UnitPrice"]) for r in rows if r["Description"].startswith("JUMBO")
             and r["Description"].endswith("BAG") and r["Quantity"] == "1"]
    mini = [float(r["UnitPrice"]) for r in rows if r["Description"].startswith("MINI")
            and r["Description"].endswith("BAG") and r["Quantity"] == "1"]
    assert jumbo and mini and min(jumbo) > max(mini)


# -- the retail preparation -------------------------------------------------------------------

def test_preparation_drops_what_the_seed_dropped_and_keeps_invoices_whole():
    rows = generate()
    splits, summary = prepare_retail_data.prepare(to_csv(rows))
    usable = [r for r in rows if not r["InvoiceNo"].startswith("C") and r["CustomerID"]]
    assert sum(summary["Rows"].values()) == len(usable)
    assert summary["Dropped"] == {"cancellation": sum(r["InvoiceNo"].startswith("C")
                                                      for r in rows),
                                  "no CustomerID": len(rows) - len(usable) - sum(
                                      r["InvoiceNo"].startswith("C") for r in rows)}
    widths = {name: {len(row) for row in part} for name, part in splits.items()}
    assert widths == {"train": {11}, "validation": {11}, "test": {10}}  # label first, or none
    invoices = {name: {r["InvoiceNo"] for r in usable
                       if prepare_retail_data.split_of(r["InvoiceNo"]) == name}
                for name in splits}
    assert not invoices["train"] & invoices["validation"]
    assert 0.6 < summary["Rows"]["train"] / len(usable) < 0.8
    prices = sorted(float(r["UnitPrice"]) for r in usable
                    if prepare_retail_data.split_of(r["InvoiceNo"]) == "train")
    assert sorted(row[0] for row in splits["train"]) == prices


def test_text_columns_are_encoded_the_same_in_every_file():
    row = {"InvoiceNo": "536365", "StockCode": "85123A",
           "Description": "WHITE HANGING HEART T-LIGHT HOLDER", "Quantity": "6",
           "InvoiceDate": "12/1/2010 8:26", "UnitPrice": "2.55", "CustomerID": "17850.0",
           "Country": "United Kingdom"}
    values = prepare_retail_data.features(row)
    assert values == prepare_retail_data.features({**row, "Description": row["Description"]})
    assert values[:3] == [6.0, 85123.0, float(zlib.crc32(b"A") % 100_003)]
    assert values[6:9] == [12.0, 2.0, 8.0]  # December, a Wednesday, 8 o'clock
    assert prepare_retail_data.features({**row, "InvoiceDate": "2010-12-01 08:26:00"}) == values


def test_malformed_rows_are_counted_and_quoted():
    raw = to_csv(generate(invoices=40)) + (
        b"536999,85123A,HEART,six,12/1/2010 8:26,2.55,17850.0,France\n"
        b"536999,85123A,HEART,6,yesterday,2.55,17850.0,France\n")
    _, summary = prepare_retail_data.prepare(raw)
    assert summary["Dropped"]["malformed"] == 2
    assert summary["Problems"][0].endswith("could not convert string to float: 'six'")
    assert "InvoiceDate 'yesterday' is not like 12/1/2010 8:26" in summary["Problems"][1]


@pytest.mark.parametrize(("raw", "reason"), [
    (b"InvoiceNo,Quantity\n1,2\n", "lacks the column(s) StockCode, Description, InvoiceDate, "
                                   "UnitPrice, CustomerID, Country"),
    (to_csv([{**r, "InvoiceNo": "C" + r["InvoiceNo"]} for r in generate(invoices=30)]),
     "no usable row for train, validation, test"),
])
def test_unusable_raw_data_is_refused(raw, reason):
    with pytest.raises(prepare_retail_data.BadInput, match=reason.replace("(", r"\(")
                       .replace(")", r"\)")):
        prepare_retail_data.prepare(raw)


def test_the_handler_reads_s3_and_writes_the_channels():
    with mock_aws():
        prepare_retail_data._s3.cache_clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        s3.put_object(Bucket="data", Key="raw/online.csv", Body=to_csv(generate()))
        result = prepare_retail_data.handler(
            {"RawData": "s3://data/raw/online.csv", "Output": "s3://data/prepared/"}, None)
        assert {k: result[k] for k in ("Train", "Validation", "Test")} == {
            "Train": "s3://data/prepared/train/", "Validation": "s3://data/prepared/validation/",
            "Test": "s3://data/prepared/test/"}
        body = s3.get_object(Bucket="data", Key="prepared/train/train.csv")["Body"].read()
        lines = body.decode().splitlines()
        assert len(lines) == result["Rows"]["train"]
        assert all(len(line.split(",")) == 11 for line in lines)  # no header, label first
        with pytest.raises(prepare_retail_data.BadInput, match="RawData must be an s3://"):
            prepare_retail_data.handler({"RawData": "online.csv", "Output": "s3://d/p"}, None)
    prepare_retail_data._s3.cache_clear()


# -- the metric check -------------------------------------------------------------------------

def check(described: dict, **event):
    return check_metric.check({"TrainingJobName": described["TrainingJobName"],
                               "MetricName": "validation:rmse", "Threshold": 1.0, **event},
                              stubbed_describe(described))


def test_the_check_reads_the_metric_by_name_and_returns_numbers():
    described = job(train_rmse=0.05, validation_rmse=0.48)  # train:rmse is listed first
    assert described["FinalMetricDataList"][0]["MetricName"] == "train:rmse"
    assert check(described, Threshold="0.75") == {
        "TrainingJobName": "retail-1", "MetricName": "validation:rmse", "Value": 0.48,
        "Threshold": 0.75}


@pytest.mark.parametrize(("described", "event", "error", "message"), [
    (job(train_rmse=0.05), {}, MetricNotFound,
     "training job retail-1 reported no 'validation:rmse'; it reported train:rmse"),
    (job(), {}, MetricNotFound, "it reported no metric at all (does its AlgorithmSpecification "
                                "have MetricDefinitions"),
    (job(validation_rmse=0.4), {"Threshold": "low"}, ValueError,
     "Threshold must be a number, not 'low'"),
    (job(validation_rmse=0.4), {"Threshold": "nan"}, ValueError, "must be a finite number"),
])
def test_the_check_refuses_what_it_cannot_judge(described, event, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(")):
        check(described, **event)


def test_the_check_refuses_a_job_that_did_not_complete():
    failed = training_job({**training_request(XGBOOST, PLACE.sagemaker_role_arn, "s3://b/m",
                                              "ml.m5.large", XGBOOST_METRICS),
                           "TrainingJobName": "retail-2"}, {}, failure="AlgorithmError: boom")
    with pytest.raises(check_metric.TrainingNotCompleted,
                       match="retail-2 is Failed, not Completed: AlgorithmError: boom"):
        check(failed)


def test_the_check_needs_its_three_fields():
    with pytest.raises(ValueError, match="the event lacks 'Threshold'"):
        check_metric.check({"TrainingJobName": "x", "MetricName": "m"}, None)


# -- the pick of the best ---------------------------------------------------------------------

def candidates() -> list[dict]:
    return [job("exp-0", train_rmse=2.0, validation_rmse=2.3),
            job("exp-1", train_rmse=1.5, validation_rmse=2.1),
            job("exp-2", train_rmse=1.0, validation_rmse=2.1)]


def test_the_lowest_validation_rmse_wins_ties_to_the_first():
    result = pick_best.pick({"Candidates": candidates(), "MetricName": "validation:rmse"})
    assert result["Best"]["TrainingJobName"] == "exp-1"
    assert result["Best"]["ModelDataUrl"].endswith("/exp-1/output/model.tar.gz")
    assert [loser["TrainingJobName"] for loser in result["Losers"]] == ["exp-2", "exp-0"]
    assert result["Losers"][1]["Metrics"] == {"train:rmse": 2.0, "validation:rmse": 2.3}


def test_maximize_ranks_the_other_way():
    result = pick_best.pick({"Candidates": candidates(), "MetricName": "train:rmse",
                             "Goal": "Maximize"})
    assert result["Best"]["TrainingJobName"] == "exp-0"


@pytest.mark.parametrize(("event", "error", "message"), [
    ({"Candidates": []}, ValueError, "needs Candidates, a non-empty list"),
    ({"Candidates": candidates(), "Goal": "Best"}, ValueError, "Goal must be one of"),
    ({"Candidates": candidates(), "MetricName": "validation:auc"}, MetricNotFound,
     "exp-0 reported no 'validation:auc'"),
])
def test_the_pick_refuses_what_it_cannot_rank(event, error, message):
    with pytest.raises(error, match=message):
        pick_best.pick(event)


# -- the deployment package -------------------------------------------------------------------

def test_the_package_is_reproducible_and_holds_the_handlers():
    assert functions.package() == functions.package()
    with zipfile.ZipFile(io.BytesIO(functions.package())) as archive:
        names = archive.namelist()
    assert names == ["check_metric.py", "metrics.py", "pick_best.py", "prepare_retail_data.py"]
    for function in (PREPARE, CHECK, PICK):
        module, _, handler = function.handler.partition(".")
        assert f"{module}.py" in names and handler == "handler"


def test_the_requirements_pin_what_the_functions_are_tested_with():
    pins = dict(line.split("==") for line in (functions.CODE / "requirements.txt").read_text()
                .splitlines() if line and not line.startswith("#"))
    assert pins == {"boto3": boto3.__version__}

