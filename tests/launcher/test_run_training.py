"""The pipeline's training script (buildspec.yml, action Train) run unchanged against the local
AWS, on the training workflow's stack as the Build stage deploys it: only the environment
(AWS_ENDPOINT_URL and the local credentials) differs from a run in CodeBuild."""

from __future__ import annotations

import json
import subprocess

import pytest
from serving_kit import run_training, training_state_machine
from testkit import REPO, TEST_DATA


@pytest.fixture
def trainer(local_aws, tmp_path):
    def run(*extra: str) -> tuple[subprocess.CompletedProcess, dict | None]:
        output = tmp_path / "training.json"
        done = run_training(local_aws, output, "--job-prefix", "launch-test",
                            "--hyperparameters", str(REPO / "model" / "hyperparameters.json"),
                            *extra)
        return done, json.loads(output.read_text()) if output.exists() else None

    return run


def execution_of(done: subprocess.CompletedProcess) -> str:
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("execution ")]
    return line.split()[1]


def test_trains_through_the_state_machine_and_writes_the_model_data_url(trainer, local_aws, aws):
    done, result = trainer("--data", str(TEST_DATA / "titanic_train.csv"))
    assert done.returncode == 0, done.stdout + done.stderr
    bucket, _, key = result["ModelDataUrl"].removeprefix("s3://").partition("/")
    assert key.endswith("/output/model.tar.gz")
    assert aws("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert result["Metrics"]["validation:accuracy"] > 0.7
    job = aws("sagemaker").describe_training_job(TrainingJobName=result["TrainingJobName"])
    assert job["HyperParameters"]["n_estimators"] == "100"  # model/hyperparameters.json
    # The held-out split the QA stage scores on is this run's processing job's.
    prep = result["TrainingJobName"].replace("-train-", "-prep-")
    assert result["TestDataUri"].endswith(f"/prepared/{prep}/test")
    # The run is an execution of the training stack's state machine, in its history.
    sfn = aws("stepfunctions")
    described = sfn.describe_execution(executionArn=result["ExecutionArn"])
    assert described["status"] == "SUCCEEDED"
    assert described["stateMachineArn"] == training_state_machine(local_aws)
    assert described["name"] == result["TrainingJobName"]
    events = sfn.get_execution_history(executionArn=result["ExecutionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events
               if "stateEnteredEventDetails" in e]
    assert entered == ["Preprocessing step", "TrainStep"]
    assert "  -> Preprocessing step\n  -> TrainStep\n" in done.stdout


def test_the_default_data_comes_from_the_installed_package(trainer):
    done, result = trainer("--hyperparameter", "n_estimators=10")
    assert done.returncode == 0, done.stdout + done.stderr
    assert result["Metrics"]["validation:accuracy"] > 0.7


def test_a_failed_training_job_fails_the_script_with_its_reason(trainer, aws):
    done, result = trainer("--data", str(TEST_DATA / "titanic_train.csv"),
                           "--hyperparameter", "n_estimators=many")
    assert done.returncode == 1 and result is None
    assert "FAILED in state 'TrainStep': States.TaskFailed" in done.stderr
    assert " ended Failed: " in done.stderr and "n_estimators='many'" in done.stderr
    # Step Functions has it too: the execution ended in the Fail state with the job's reason.
    described = aws("stepfunctions").describe_execution(executionArn=execution_of(done))
    assert described["status"] == "FAILED" and described["error"] == "States.TaskFailed"
    assert "n_estimators='many'" in json.loads(described["cause"])["FailureReason"]
