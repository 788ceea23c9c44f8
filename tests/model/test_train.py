"""`train`: string hyperparameters parsed and checked, scrapeable metric lines, the model
directory that `serve` loads, and a one-line failure reason for every bad input."""

from __future__ import annotations

import json
import re
import sys

import pytest
from model_kit import raw_dir, run, run_prepare, training_env
from testkit import REPO

pytest_plugins = ["model_kit"]

# As a SageMaker MetricDefinitions list would scrape them from the job's log.
METRIC_REGEXES = {name: rf"{name}=([0-9.]+);" for name in (
    "train:accuracy", "validation:accuracy", "validation:f1", "validation:auc")}


def test_metric_lines_are_printed_for_metric_definitions(trained):
    metadata = json.loads((trained.model_dir / "metadata.json").read_text())
    for name, regex in METRIC_REGEXES.items():
        value = float(re.search(regex, trained.stdout).group(1))
        assert value == pytest.approx(metadata["metrics"][name], abs=1e-4)
    assert metadata["metrics"]["validation:accuracy"] > 0.7  # far above the 61% base rate


def test_model_directory_holds_runtime_model_preprocessor_and_metadata(trained, prepared):
    assert sorted(path.name for path in trained.model_dir.iterdir()) == [
        "metadata.json", "model.onnx", "preprocessor.json"]
    metadata = json.loads((trained.model_dir / "metadata.json").read_text())
    assert metadata["features"] == ["Pclass", "Sex", "Age"]
    assert metadata["hyperparameters"] == {"n_estimators": 100, "max_depth": None,
                                           "min_samples_leaf": 1, "random_state": 42}
    assert re.fullmatch(r"sha256-[0-9a-f]{16}", metadata["model_version"])
    assert (trained.model_dir / "preprocessor.json").read_bytes() == (
        prepared / "preprocessor/preprocessor.json").read_bytes()
    evaluation = json.loads((trained.output_dir / "data/evaluation.json").read_text())
    assert sum(map(sum, evaluation["validation_confusion_matrix"]["rows"])) == 94


def test_string_hyperparameters_and_the_job_name_are_used(prepared, tmp_path):
    env = training_env(tmp_path, prepared, TRAINING_JOB_NAME="titanic-2024-01-01")
    (tmp_path / "config/hyperparameters.json").write_text(json.dumps(
        {"n_estimators": "7", "max_depth": "4", "min_samples_leaf": " 3 ", "random_state": "1",
         "sagemaker_region": "us-east-1"}))
    done = run("train", **env)
    assert done.returncode == 0, done.stderr
    metadata = json.loads((tmp_path / "model/metadata.json").read_text())
    assert metadata["model_version"] == "titanic-2024-01-01"
    assert metadata["hyperparameters"] == {"n_estimators": 7, "max_depth": 4,
                                           "min_samples_leaf": 3, "random_state": 1}


@pytest.fixture(scope="module")
def prepared_default_data(tmp_path_factory):
    """`prepare` on the pipeline's default data (all 891 passengers from bokeh-sampledata)."""
    sys.path.insert(0, str(REPO / "CodePipeline" / "scripts"))
    from default_data import export_titanic

    tmp = tmp_path_factory.mktemp("default-data")
    done = run_prepare(raw_dir(tmp, export_titanic(tmp / "titanic.csv")), tmp / "output")
    assert done.returncode == 0, done.stderr
    return tmp / "output"


@pytest.mark.parametrize("trees", ["2", "10", "20"])
def test_an_even_forest_with_tied_votes_still_converts(prepared_default_data, tmp_path, trees):
    """Even tree counts give some rows a 0.5 probability; ONNX's float32 may break those ties
    the other way, which is no disagreement with scikit-learn."""
    env = training_env(tmp_path, prepared_default_data)
    (tmp_path / "config/hyperparameters.json").write_text(json.dumps({"n_estimators": trees}))
    done = run("train", **env)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("hyperparameters", "reason"), [
    ('{"n_estimators": "many"}', "hyperparameter n_estimators='many' is not an integer; "
                                 "expected an integer from 1 to 5000"),
    ('{"max_depth": "0"}', "hyperparameter max_depth=0 is out of range; expected an integer "
                           "from 1 to 1000 or None"),
    ('{"n_estimator": "10"}', "unknown hyperparameter(s) n_estimator; accepted: n_estimators"),
    ('{"n_estimators": ', "hyperparameters.json is not valid JSON"),
])
def test_bad_hyperparameter_fails_with_a_reason(prepared, tmp_path, hyperparameters, reason):
    env = training_env(tmp_path, prepared)
    (tmp_path / "config/hyperparameters.json").write_text(hyperparameters)
    assert_fails(env, reason)


def assert_fails(env: dict, reason: str) -> None:
    done = run("train", **env)
    assert done.returncode == 1
    failure = (env["SM_OUTPUT_DIR"] / "failure").read_text()
    assert reason in failure and failure.count("\n") == 1
    assert failure.strip() in done.stderr
    assert not env["SM_MODEL_DIR"].exists()


@pytest.mark.parametrize("channel", ["validation", "preprocessor"])
def test_missing_channel_fails_with_a_reason(prepared, tmp_path, channel):
    env = training_env(tmp_path, prepared, **{f"SM_CHANNEL_{channel.upper()}": tmp_path / "none"})
    assert_fails(env, f"missing channel '{channel}': {tmp_path / 'none'} does not exist")


def test_bad_rows_in_a_channel_fail_with_file_and_line(prepared, tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    rows = (prepared / "train/train.csv").read_text().splitlines()
    rows[5] = "1,1,female,twenty"
    (train / "train.csv").write_text("\n".join(rows) + "\n")
    env = training_env(tmp_path, prepared, SM_CHANNEL_TRAIN=train)
    assert_fails(env, "train.csv: line 6, column Age: 'twenty' is not a number")
