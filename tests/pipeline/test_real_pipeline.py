"""The project's own pipeline (CodePipeline/pipeline.yaml), run locally end to end on a clone of
this repository: where it stops when training or QA fails or the release is rejected, and how
an approved model change reaches prod (same endpoint, blue/green, no failed call)."""

from __future__ import annotations

import json
import subprocess
import threading
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from testkit import REPO, reject_when_asked

from sagepipe.pipeline.executor import executor_for
from sagepipe.pipeline.history import History
from sagepipe.store import Store

PROD = "sagepipe-prod"


class Repo:
    """A clone of HEAD whose model hyperparameters each test changes in a commit of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        subprocess.run(["git", "clone", "-q", str(REPO), str(path)], check=True)
        self.base = self.git("rev-parse", "HEAD")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.path), "-c", "user.email=t@sagepipe.dev",
                               "-c", "user.name=t", *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    def commit_hyperparameters(self, message: str, **changes: str) -> None:
        self.git("reset", "-q", "--hard", self.base)
        path = self.path / "model" / "hyperparameters.json"
        values = json.loads(path.read_text())
        path.write_text(json.dumps({**values, **changes}, indent=2) + "\n")
        self.git("commit", "-qam", message)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repo:
    return Repo(tmp_path_factory.mktemp("pipeline") / "repo")


def run_pipeline(settings, repo: Repo, auto_approve: bool = True) -> dict:
    executor = executor_for(settings, repo.path, auto_approve)
    executor.console = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    return executor.run()


def statuses(doc: dict) -> dict[str, str]:
    return {f"{s['Name']}.{a['Name']}": a["Status"] for s in doc["Stages"] for a in s["Actions"]}


def action(doc: dict, label: str) -> dict:
    stage, name = label.split(".")
    return next(a for s in doc["Stages"] if s["Name"] == stage for a in s["Actions"]
                if a["Name"] == name)


def prod_version(aws) -> str:
    reply = aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=PROD, Body=b"1,female,29", ContentType="text/csv", Accept="application/json")
    return json.loads(reply["Body"].read())["model_version"]


@pytest.fixture(scope="module")
def first_release(local_aws, repo) -> dict:
    return run_pipeline(local_aws, repo)


def test_the_pipeline_releases_to_prod_with_the_qa_summary_in_the_approval(
        first_release, local_aws, aws):
    assert first_release["Status"] == "Succeeded", statuses(first_release)
    assert set(statuses(first_release).values()) == {"Succeeded"}
    train = statuses(first_release)
    assert list(train)[:5] == ["Source.Source", "Build.UnitTests", "Build.BuildImage",
                               "Build.DeployTrainingWorkflow", "Build.Train"]
    # The training went through the training stack's state machine, as in AWS.
    machine = action(first_release, "Build.DeployTrainingWorkflow")["Variables"][
        "StateMachineArn"]
    job = action(first_release, "Build.Train")["Variables"]["TRAINING_JOB_NAME"]
    execution = aws("stepfunctions").describe_execution(
        executionArn=machine.replace(":stateMachine:", ":execution:") + f":{job}")
    assert execution["status"] == "SUCCEEDED"
    assert prod_version(aws).startswith("sagepipe-train-")
    with pytest.raises(ClientError):  # the QA endpoint is torn down after the release
        aws("sagemaker").describe_endpoint(EndpointName="sagepipe-qa")
    eml = local_aws.home / "outbox" / f"{first_release['ExecutionId']}-ManualApproval.eml"
    body = message_from_bytes(eml.read_bytes(), policy=policy.default).get_content()
    assert "QA: PASSED qa sagepipe-qa: accuracy" in body
    assert first_release["Commit"] in body and "model.tar.gz" in body


def test_a_model_below_the_quality_floor_stops_at_qa_and_prod_keeps_serving(
        first_release, local_aws, aws, repo):
    before = prod_version(aws)
    repo.commit_hyperparameters("a deliberately bad model", max_depth="1", n_estimators="1")
    doc = run_pipeline(local_aws, repo)
    assert doc["Status"] == "Failed"
    assert statuses(doc)["QA.QATests"] == "Failed"
    assert statuses(doc)["Approval.ManualApproval"] == "Pending"
    qa = doc["Stages"][2]["Actions"][1]
    assert "test_accuracy" in qa["Excerpt"] and "floor" in qa["Excerpt"]
    assert prod_version(aws) == before


def test_a_failing_training_job_stops_before_qa(first_release, local_aws, aws, repo):
    before = prod_version(aws)
    repo.commit_hyperparameters("a broken hyperparameter", n_estimators="many")
    doc = run_pipeline(local_aws, repo)
    assert doc["Status"] == "Failed"
    assert statuses(doc)["Build.Train"] == "Failed"
    assert statuses(doc)["QA.DeployQA"] == "Pending"
    excerpt = action(doc, "Build.Train")["Excerpt"]
    assert "FAILED in state 'TrainStep': States.TaskFailed" in excerpt
    assert "n_estimators='many'" in excerpt
    assert prod_version(aws) == before


def test_rejected_then_approved_release_updates_prod_in_place(first_release, local_aws, aws,
                                                             repo):
    before = prod_version(aws)
    repo.commit_hyperparameters("more trees", n_estimators="120")
    history = History(Store(local_aws.db_path))
    result = reject_when_asked(
        history, lambda: run_pipeline(local_aws, repo, auto_approve=False), "not this week")
    assert result["Status"] == "Failed"
    assert statuses(result)["Approval.ManualApproval"] == "Failed"
    assert statuses(result)["Prod.DeployProd"] == "Pending"
    assert prod_version(aws) == before

    calls = {"ok": 0, "failed": 0, "versions": [before]}
    done = threading.Event()

    def call_prod() -> None:
        while not done.is_set():
            try:
                version = prod_version(aws)
            except (ClientError, BotoCoreError):
                calls["failed"] += 1
                continue
            calls["ok"] += 1
            if version != calls["versions"][-1]:
                calls["versions"].append(version)

    caller = threading.Thread(target=call_prod)
    caller.start()
    doc = run_pipeline(local_aws, repo)
    done.set()
    caller.join()
    assert doc["Status"] == "Succeeded", statuses(doc)
    after = prod_version(aws)
    assert after != before
    assert calls["failed"] == 0 and calls["ok"] > 0
    assert calls["versions"] == [before, after]  # switched once, never back
    assert aws("sagemaker").describe_endpoint(EndpointName=PROD)["EndpointStatus"] == "InService"
