"""The training launcher the buildspec calls, run unchanged against the local AWS: only the
environment (AWS_ENDPOINT_URL and the local credentials) differs from a run in CodeBuild."""

from __future__ import annotations

import json
import sys
import uuid

import pytest
from testkit import MODEL_IMAGE_URI, REPO, TEST_DATA, use_local_aws

sys.path.insert(0, str(REPO / "CodePipeline" / "scripts"))
import launch_training


@pytest.fixture
def launcher(local_aws, aws, monkeypatch, tmp_path):
    use_local_aws(monkeypatch, local_aws)  # what `sagepipe env` exports
    bucket = f"launch-{uuid.uuid4().hex[:12]}"
    aws("s3").create_bucket(Bucket=bucket)

    def launch(*extra: str) -> tuple[int, dict | None]:
        output = tmp_path / "training.json"
        code = launch_training.main([
            "--image-uri", MODEL_IMAGE_URI, "--role-arn", "arn:aws:iam::000000000000:role/sm",
            "--bucket", bucket, "--prefix", "p/commit",
            "--job-prefix", "launch-test", "--output", str(output),
            "--hyperparameters", str(REPO / "model" / "hyperparameters.json"), *extra])
        return code, json.loads(output.read_text()) if output.exists() else None

    return launch


def test_prepares_trains_and_writes_the_model_data_url(launcher, aws):
    code, result = launcher("--data", str(TEST_DATA / "titanic_train.csv"))
    assert code == 0
    bucket, _, key = result["ModelDataUrl"].removeprefix("s3://").partition("/")
    assert key.endswith("/output/model.tar.gz")
    assert aws("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert result["Metrics"]["validation:accuracy"] > 0.7
    assert result["TestDataUri"].endswith("/data/prepared/test")
    job = aws("sagemaker").describe_training_job(TrainingJobName=result["TrainingJobName"])
    assert job["HyperParameters"]["n_estimators"] == "100"


def test_the_default_data_comes_from_the_installed_package(launcher):
    code, result = launcher("--hyperparameter", "n_estimators=10")
    assert code == 0 and result["Metrics"]["validation:accuracy"] > 0.7


def test_a_failed_training_job_fails_the_launcher_with_its_reason(launcher, capsys):
    code, result = launcher("--data", str(TEST_DATA / "titanic_train.csv"),
                            "--hyperparameter", "n_estimators=many")
    assert code == 1 and result is None
    err = capsys.readouterr().err
    assert "ended Failed" in err and "n_estimators='many'" in err
