"""Experiments for real on the local AWS: the candidates trained side by side (a Map of training
jobs), the best picked by its validation:rmse (the Lambda function), deployed by CreateEndpoint
the first time (the module's own state machine and function) and by a blue/green UpdateEndpoint
the second (the CloudFormation stack's), the losers' metrics reported; a failing candidate ends
the run in "ML Workflow failed" with its training job's reason."""

from __future__ import annotations

import json
import threading

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from testkit import unique
from workflows_kit import LocalWorkflows, entered, output

from workflows import abalone, experiments
from workflows.states import FAILED

METRIC = "validation:rmse"
ROWS = "\n".join(abalone.libsvm_rows()["test"].splitlines()[:3]).encode()
# The second experiment: one quick candidate, whose model answers differently from the first's.
QUICK = [{"HyperParameters": {"objective": "reg:squarederror", "num_round": 3, "max_depth": 2,
                              "eta": 0.3}}]


def ask(runtime, endpoint: str) -> str:
    return runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/libsvm",
                                   Body=ROWS)["Body"].read().decode()


@pytest.fixture(scope="module")
def endpoint(local: LocalWorkflows):
    name = unique("experiments")
    yield name
    local.client("sagemaker").delete_endpoint(EndpointName=name)


@pytest.fixture(scope="module")
def first(local: LocalWorkflows, endpoint: str) -> dict:
    """The first experiment: the module's three candidates; the endpoint does not exist yet."""
    job = unique("exp")
    run = local.run("experiments", "--endpoint-name", endpoint, "--job-name", job)
    assert run.returncode == 0, run
    described, events = local.finished(run.execution_arn)
    return {"job": job, "run": run, "output": output(described), "events": events,
            "answer": ask(local.client("sagemaker-runtime"), endpoint)}


def test_the_candidates_train_side_by_side(local, first):
    events, job = first["events"], first["job"]
    assert entered(events)[:4] == ["Train candidates", *["Train candidate"] * 3]
    # Every candidate's job was submitted before any of them finished.
    kinds = [e["type"] for e in events if e["type"] in ("TaskSubmitted", "TaskSucceeded")]
    assert kinds[:4] == ["TaskSubmitted"] * 3 + ["TaskSucceeded"]
    sm = local.client("sagemaker")
    trained = {f"{job}-{i}": sm.describe_training_job(TrainingJobName=f"{job}-{i}")
               for i in range(3)}
    assert {name: (d["HyperParameters"]["max_depth"], d["TrainingJobStatus"])
            for name, d in trained.items()} == {f"{job}-0": ("2", "Completed"),
                                                f"{job}-1": ("5", "Completed"),
                                                f"{job}-2": ("8", "Completed")}


def test_the_best_is_deployed_and_the_losers_reported(local, first, endpoint):
    result, job = first["output"], first["job"]
    scores = {f"{job}-{i}": local.metrics(f"{job}-{i}")[METRIC] for i in range(3)}
    ranked = sorted(scores, key=scores.__getitem__)
    assert result["MetricName"] == METRIC
    assert result["Best"]["TrainingJobName"] == ranked[0]
    assert [(c["TrainingJobName"], c["Metrics"][METRIC]) for c in result["Losers"]] == [
        (name, scores[name]) for name in ranked[1:]]
    assert all(set(c["Metrics"]) == {"train:rmse", METRIC} for c in result["Losers"])
    for loser in result["Losers"]:
        assert f"  beaten: {experiments.describe(loser)}" in first["run"].stdout
    assert f"{endpoint} serves {experiments.describe(result['Best'])}" in first["run"].stdout

    assert "Create endpoint" in entered(first["events"])
    assert "Update endpoint" not in entered(first["events"])
    sm = local.client("sagemaker")
    described = sm.describe_endpoint(EndpointName=endpoint)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", job)
    assert sm.describe_model(ModelName=job)["PrimaryContainer"]["ModelDataUrl"] == \
        result["Best"]["ModelDataUrl"]
    assert len(first["answer"].split(",")) == 3


def test_a_second_run_from_the_stack_updates_the_endpoint_blue_green(local, first, endpoint,
                                                                     tmp_path):
    """The endpoint keeps answering while the update moves it to the new model."""
    candidates = tmp_path / "candidates.json"
    candidates.write_text(json.dumps(QUICK))
    created = local.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    runtime = local.client("sagemaker-runtime")
    answers: list[str] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.wait(0.1):
            try:
                answers.append(ask(runtime, endpoint))
            except (ClientError, BotoCoreError) as error:
                errors.append(error)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    job = unique("exp2")
    try:
        run = local.run("experiments", "--state-machine-arn", local.stack("experiments"),
                        "--endpoint-name", endpoint, "--candidates", str(candidates),
                        "--job-name", job)
    finally:
        stop.set()
        asker.join()
    assert run.returncode == 0, run
    _, events = local.finished(run.execution_arn)
    assert entered(events)[-2:] == ["Endpoint exists?", "Update endpoint"]
    assert "Create endpoint" not in entered(events)
    described = local.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", job)
    assert described["EndpointArn"] == created["EndpointArn"]
    assert described["CreationTime"] == created["CreationTime"]  # updated, not re-created
    new = ask(runtime, endpoint)
    assert new != first["answer"]
    # Every call answered: the old model until the new one took over, then the new one.
    assert errors == [] and new in answers
    switch = answers.index(new)
    assert switch > 0 and answers == [first["answer"]] * switch + [new] * (len(answers) - switch)


def test_a_failing_candidate_ends_in_the_fail_state_with_its_jobs_reason(local, first, tmp_path):
    candidates = tmp_path / "candidates.json"
    candidates.write_text(json.dumps([{"HyperParameters": {**QUICK[0]["HyperParameters"],
                                                           "max_depth": -1}}]))
    job = unique("exp-bad")
    run = local.run("experiments", "--endpoint-name", unique("never"), "--candidates",
                    str(candidates), "--job-name", job)
    assert run.returncode == 1, run
    described, events = local.finished(run.execution_arn)
    assert entered(events) == ["Train candidates", "Train candidate", FAILED]
    reason = local.client("sagemaker").describe_training_job(TrainingJobName=f"{job}-0")[
        "FailureReason"]
    assert "max_depth='-1' is out of range" in reason
    assert described["error"] == "States.TaskFailed" and reason in described["cause"]
    assert local.client("sagemaker").list_models(NameContains=job)["Models"] == []
