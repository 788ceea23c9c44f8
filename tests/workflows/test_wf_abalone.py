"""The DS SDK notebook's workflow for real on the local AWS, from its CloudFormation stack:
XGBoost trained on the seeded abalone splits the module uploads, the model saved, the test split
scored by a batch transform, and an endpoint that answers InvokeEndpoint."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from testkit import unique
from workflows_kit import LocalWorkflows, entered, output

from workflows import abalone

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def deployed(local: LocalWorkflows):
    """One run, from the stack; its endpoint is deleted once the module's tests are done."""
    job, machine = unique("abalone"), local.stack("abalone")
    before = local.client("stepfunctions").describe_state_machine(stateMachineArn=machine)
    run = local.run("abalone", "--state-machine-arn", machine, "--job-name", job)
    yield job, run, before
    local.client("sagemaker").delete_endpoint(EndpointName=job)


def test_the_notebooks_chain_runs_to_an_endpoint(local, deployed):
    job, run, stack_machine = deployed
    assert run.returncode == 0, run
    described, events = local.finished(run.execution_arn)
    assert described["status"] == "SUCCEEDED"
    # The stack's state machine, run as the stack made it: neither updated nor copied.
    sfn = local.client("stepfunctions")
    assert described["stateMachineArn"] == stack_machine["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=stack_machine["stateMachineArn"])[
        "revisionId"] == stack_machine["revisionId"]
    copy = stack_machine["stateMachineArn"].rpartition(":")[0] + f":{abalone.NAME}"
    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        sfn.describe_state_machine(stateMachineArn=copy)
    assert entered(events) == ["Train Step", "Save model", "Transform Input Dataset",
                               "Create Endpoint Config", "Create Endpoint"]
    assert output(described)["EndpointArn"].endswith(f":endpoint/{job}")
    sm = local.client("sagemaker")
    metrics = local.metrics(job)
    assert 1 < metrics["train:rmse"] < metrics["validation:rmse"] < 2.5
    trained = sm.describe_training_job(TrainingJobName=job)
    assert trained["HyperParameters"] == {k: str(v) for k, v in abalone.HYPERPARAMETERS.items()}
    assert sm.describe_model(ModelName=job)["PrimaryContainer"]["ModelDataUrl"] == \
        trained["ModelArtifacts"]["S3ModelArtifacts"]
    assert sm.describe_endpoint(EndpointName=job)["EndpointStatus"] == "InService"


def test_the_module_uploads_the_seeded_splits(local, deployed):
    uploaded = {split: local.text(f"s3://{local.bucket}/workflows/abalone/{split}/"
                                  f"abalone-{split}.libsvm") for split in SPLITS}
    assert uploaded == abalone.libsvm_rows()
    assert [len(uploaded[s].splitlines()) for s in SPLITS] == [2924, 626, 627]
    assert uploaded["train"] != abalone.libsvm_rows(seed=1)["train"]
    assert all(len(line.split()) == 11 for line in uploaded["test"].splitlines())


def test_the_transform_scores_every_test_row(local, deployed):
    (key,) = local.keys(f"s3://{local.bucket}/workflows/abalone/batch-out/")
    assert key.endswith("abalone-test.libsvm.out")
    predictions = local.text(f"s3://{local.bucket}/{key}").splitlines()
    assert len(predictions) == len(abalone.libsvm_rows()["test"].splitlines())
    assert all(1 < float(rings) < 30 for rings in predictions)


def test_the_endpoint_answers(local, deployed):
    job, run, _ = deployed
    rows = abalone.libsvm_rows()["test"].splitlines()[:3]
    answer = local.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=job, ContentType="text/libsvm", Body="\n".join(rows).encode())
    rings = [float(value) for value in answer["Body"].read().decode().split(",")]
    assert len(rings) == 3 and all(1 < value < 30 for value in rings)
    assert f"endpoint {job} predicts " in run.stdout
    assert f"aws sagemaker delete-endpoint --endpoint-name {job}" in run.stdout


def test_a_training_job_that_cannot_be_created_fails_the_execution(local, deployed):
    """The failure path: the chain has no Catch (as the notebook's), so the Train Step's error
    ends the execution FAILED with SageMaker's reason, and nothing after it runs."""
    job, _, machine = deployed
    sfn, again = local.client("stepfunctions"), unique("abalone-again")
    inputs = {"JobName": job, "ModelName": again, "EndpointName": again}  # the job name is taken
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"],
                              input=json.dumps(inputs))["executionArn"]
    described, events = local.finished(arn)
    assert described["status"] == "FAILED"
    assert entered(events) == ["Train Step"]
    assert described["error"].startswith("SageMaker.")
    assert job in described["cause"] and "already" in described["cause"], described["cause"]
    sm = local.client("sagemaker")
    with pytest.raises(ClientError, match="Could not find model"):
        sm.describe_model(ModelName=again)
