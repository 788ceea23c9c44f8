"""The project's own pipeline through the `sagepipe` commands, clients of the local AWS's APIs
(`run` creates the stack and pushes the commit, `reject` and `approve` answer the approval), on a
clone of this repository and a local AWS of its own: where it stops when training fails or the
release is rejected, that an approved model change reaches prod, and what `status` shows."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from testkit import REPO, client_for, free_port

from sagepipe.config import Settings
from sagepipe.server import stop

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

PIPELINE, PROD = "sagepipe-pipeline", "sagepipe-prod"


class Clone:
    """A clone of HEAD whose model hyperparameters each test changes in a commit of its own,
    and the `sagepipe` command pointed at a local AWS of its own."""

    def __init__(self, root: Path) -> None:
        self.path = root / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO), str(self.path)], check=True)
        self.base = self.git("rev-parse", "HEAD")
        self.settings = Settings(home=root / "home", port=free_port())
        self.api = client_for(self.settings, "codepipeline")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.path), "-c", "user.email=t@sagepipe.dev",
                               "-c", "user.name=t", *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    def commit_hyperparameters(self, message: str, **changes: str) -> None:
        self.git("reset", "-q", "--hard", self.base)
        path = self.path / "model" / "hyperparameters.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}, indent=2) + "\n")
        self.git("commit", "-qam", message)

    def sagepipe(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).parent / "sagepipe"), "--home",
                str(self.settings.home), "--port", str(self.settings.port), *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.sagepipe(*args), cwd=self.path, capture_output=True,
                              text=True, timeout=1200)

    def latest(self) -> dict[str, Any]:
        return self.api.list_pipeline_executions(pipelineName=PIPELINE, maxResults=1)[
            "pipelineExecutionSummaries"][0]

    def statuses(self, execution_id: str) -> dict[str, str]:
        details = self.api.list_action_executions(
            pipelineName=PIPELINE, filter={"pipelineExecutionId": execution_id})[
            "actionExecutionDetails"]
        return {f"{d['stageName']}.{d['actionName']}": d["status"]
                for d in sorted(details, key=lambda d: d["startTime"])}

    def variables(self, execution_id: str, label: str) -> dict[str, str]:
        """The output variables of an action of an execution (e.g. Build.Train)."""
        stage, action = label.split(".")
        details = self.api.list_action_executions(
            pipelineName=PIPELINE, filter={"pipelineExecutionId": execution_id})[
            "actionExecutionDetails"]
        return next(d["output"]["outputVariables"] for d in details
                    if (d["stageName"], d["actionName"]) == (stage, action))

    def prod_version(self) -> str:
        reply = client_for(self.settings, "sagemaker-runtime").invoke_endpoint(
            EndpointName=PROD, Body=b"1,female,29", ContentType="text/csv",
            Accept="application/json")
        return str(json.loads(reply["Body"].read())["model_version"])


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory):
    clone = Clone(tmp_path_factory.mktemp("pipeline"))
    yield clone
    stop(clone.settings)


@pytest.fixture(scope="module")
def first_release(clone: Clone) -> subprocess.CompletedProcess[str]:
    return clone.run("run", "--auto-approve")


def test_run_creates_the_stack_pushes_the_commit_and_releases_to_prod(clone, first_release):
    assert first_release.returncode == 0, first_release.stdout + first_release.stderr
    assert f"stack {PIPELINE} created" in first_release.stderr
    for line in ("✔ Source.Source", "✔ Build.Train", "auto-approved (--auto-approve)",
                 "✔ Prod.DeployProd", "✔ Prod.TeardownQA", "pipeline Succeeded"):
        assert line in first_release.stdout
    latest = clone.latest()
    assert latest["status"] == "Succeeded"
    assert latest["sourceRevisions"][0]["revisionId"] == clone.base
    assert latest["trigger"]["triggerType"] == "WebhookV2"  # the push started it
    assert clone.prod_version().startswith("sagepipe-train-")
    # The Build stage deploys the training stack, then trains through its state machine.
    execution_id = latest["pipelineExecutionId"]
    started = list(clone.statuses(execution_id))  # UnitTests and BuildImage run in parallel
    assert set(started[1:3]) == {"Build.UnitTests", "Build.BuildImage"}
    assert started[3:5] == ["Build.DeployTrainingWorkflow", "Build.Train"]
    machine = clone.variables(execution_id, "Build.DeployTrainingWorkflow")["StateMachineArn"]
    job = clone.variables(execution_id, "Build.Train")["TRAINING_JOB_NAME"]
    training = client_for(clone.settings, "stepfunctions").describe_execution(
        executionArn=machine.replace(":stateMachine:", ":execution:") + f":{job}")
    assert training["status"] == "SUCCEEDED"
    status = subprocess.run(clone.sagepipe("status"), capture_output=True, text=True, check=True)
    assert f"{PIPELINE} execution {latest['pipelineExecutionId']}" in status.stdout
    assert "ManualApproval" in status.stdout and "Succeeded" in status.stdout


def test_the_release_deploys_the_batch_inference_that_scores_a_dropped_file(
        clone, first_release):
    """Prod's DeployBatchInference (after DeployProd, the prod endpoint's name wired in, the
    code packaged by PackageApi): the README's "drop a file, get predictions" after a run."""
    assert first_release.returncode == 0, first_release.stdout + first_release.stderr
    assert "✔ Prod.DeployBatchInference" in first_release.stdout
    (stack,) = client_for(clone.settings, "cloudformation").describe_stacks(
        StackName="sagepipe-batch-inference")["Stacks"]
    assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert given["EndpointName"] == PROD
    assert given["PermissionsBoundaryArn"].endswith(":policy/sagepipe-batch-inference-boundary")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    s3 = client_for(clone.settings, "s3")
    s3.put_object(Bucket=outputs["InputBucketName"], Key="incoming/passengers.csv",
                  Body=b"Name,Pclass,Sex,Age\nAllen,1,female,29\nNobody,4,male,30\n")
    key = "predictions/incoming/passengers.csv"
    s3.get_waiter("object_exists").wait(Bucket=outputs["OutputBucketName"], Key=key,
                                        WaiterConfig={"Delay": 1, "MaxAttempts": 120})

    def read(name: str) -> list[str]:
        body = s3.get_object(Bucket=outputs["OutputBucketName"], Key=name)["Body"].read()
        return body.decode().splitlines()

    header, allen = read(key)
    assert header == "Name,Pclass,Sex,Age,predicted_survived,survival_probability"
    version = client_for(clone.settings, "sagemaker-runtime").invoke_endpoint(
        EndpointName=PROD, Body=b"1,female,29", ContentType="text/csv", Accept="text/csv")
    assert allen == "Allen,1,female,29," + version["Body"].read().decode().strip()
    assert read(f"{key}.errors.csv") == [
        "line,error,Name,Pclass,Sex,Age",
        '3,"column Pclass: 4 is not one of 1, 2, 3",Nobody,4,male,30']


def test_a_failing_training_job_stops_before_qa(clone, first_release):
    before = clone.prod_version()
    clone.commit_hyperparameters("a broken hyperparameter", n_estimators="many")
    done = clone.run("run", "--auto-approve")
    assert done.returncode == 1
    assert "✘ Build.Train" in done.stdout and "n_estimators='many'" in done.stdout
    assert "FAILED in state 'TrainStep': States.TaskFailed" in done.stdout
    statuses = clone.statuses(clone.latest()["pipelineExecutionId"])
    assert statuses["Build.Train"] == "Failed" and "QA.DeployQA" not in statuses
    assert clone.prod_version() == before


def printed_until(process: subprocess.Popen[bytes], text: str, bound: float = 900) -> str:
    """What `process` printed, read until it prints `text`: the test answers what the user was
    shown, as a user does (answering before `sagepipe run` polls would leave it unshown)."""
    seen = b""
    deadline = time.monotonic() + bound
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while text.encode() not in seen:
            assert time.monotonic() < deadline and process.poll() is None, \
                f"it never printed {text!r}:\n{seen.decode()}"
            if selector.select(timeout=1):
                seen += os.read(process.stdout.fileno(), 65536)
    return seen.decode()


def test_a_rejected_release_leaves_prod_and_an_approved_one_updates_it(clone, first_release):
    before = clone.prod_version()
    clone.commit_hyperparameters("more trees", n_estimators="120")
    waiting = subprocess.Popen(clone.sagepipe("run"), cwd=clone.path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    asked = printed_until(waiting, "waits for approval")
    rejecting = clone.run("reject", "--comment", "not this week")
    assert rejecting.returncode == 0, rejecting.stderr
    out = asked + waiting.communicate(timeout=120)[0].decode()
    assert waiting.returncode == 1
    assert "Rejected: not this week" in out
    deadline = time.monotonic() + 900
    rejected = clone.latest()
    statuses = clone.statuses(rejected["pipelineExecutionId"])
    assert statuses["Approval.ManualApproval"] == "Failed"
    assert "Prod.DeployProd" not in statuses
    assert clone.prod_version() == before

    # The same commit again: the push changes nothing, so `run` starts the execution itself.
    again = subprocess.Popen(clone.sagepipe("run"), cwd=clone.path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    while subprocess.run(clone.sagepipe("approve", "--comment", "fine now"),
                         capture_output=True).returncode != 0:
        assert time.monotonic() < deadline and again.poll() is None, "no approval waited"
        time.sleep(2)
    out, _ = again.communicate(timeout=900)
    assert again.returncode == 0, out
    approved = clone.latest()
    assert approved["trigger"]["triggerType"] == "StartPipelineExecution"
    assert approved["sourceRevisions"][0]["revisionId"] == \
        rejected["sourceRevisions"][0]["revisionId"]
    assert clone.prod_version() not in (before, "")
