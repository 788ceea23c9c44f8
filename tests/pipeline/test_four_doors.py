"""The README's AWS section, done against the local AWS with the AWS CLI only: create the
connection, `create-stack` of pipeline.yaml, `wait stack-create-complete`, `git push` of a commit
to the pipeline's remote, `get-pipeline-state` until the approval waits (its e-mail in the
outbox), `put-approval-result`, then prod and the API answering; a second push with a model
change (blue/green: a client calling prod all along sees no failed call), a push that fails QA
(prod unchanged), and `delete-stack`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from testkit import REPO, client_for, free_port

from sagepipe.clients import local_env
from sagepipe.config import Settings
from sagepipe.server import start_background, stop

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

BIN = Path(sys.executable).parent
STACK, PIPELINE, PROD = "sagepipe-pipeline", "sagepipe-pipeline", "sagepipe-prod"
PARAMETERS = json.loads((REPO / "CodePipeline" / "local-parameters.json").read_text())


class Doors:
    """A local AWS of its own, the AWS CLI pointed at it, and a clone of this repository."""

    def __init__(self, root: Path) -> None:
        self.settings = Settings(home=root / "home", port=free_port())
        self.env = {**os.environ, **local_env(self.settings)}
        self.clone = root / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(self.clone)], check=True)
        self.base = self.git("rev-parse", "HEAD")

    def aws(self, *args: str) -> Any:
        """The AWS CLI's answer (JSON), or its text for the commands that print text."""
        done = subprocess.run([str(BIN / "aws"), "--output", "json", *args], env=self.env,
                              cwd=self.clone, capture_output=True, text=True)
        assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr}"
        try:
            return json.loads(done.stdout) if done.stdout.strip() else None
        except json.JSONDecodeError:
            return done.stdout

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.clone), "-c", "user.email=t@sagepipe.dev",
                               "-c", "user.name=t", *args], check=True, capture_output=True,
                              text=True, env=self.env).stdout.strip()

    def commit_hyperparameters(self, message: str, **changes: str) -> str:
        self.git("reset", "-q", "--hard", self.base)
        path = self.clone / "model" / "hyperparameters.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}, indent=2) + "\n")
        self.git("commit", "-qam", message)
        return self.git("rev-parse", "HEAD")

    def push(self) -> str:
        """`git push local HEAD:main`, and the execution it started."""
        before = {e["pipelineExecutionId"] for e in self.executions()}
        self.git("push", "-q", "--force", "local", "HEAD:main")
        started = [e for e in self.executions() if e["pipelineExecutionId"] not in before]
        assert len(started) == 1, started
        return str(started[0]["pipelineExecutionId"])

    def executions(self) -> list[dict[str, Any]]:
        return self.aws("codepipeline", "list-pipeline-executions", "--pipeline-name",
                        PIPELINE)["pipelineExecutionSummaries"]

    def state(self) -> dict[str, dict[str, Any]]:
        return {s["stageName"]: s for s in self.aws(
            "codepipeline", "get-pipeline-state", "--name", PIPELINE)["stageStates"]}

    def approval_token(self, execution_id: str, timeout: float = 600) -> str:
        """`get-pipeline-state` until the manual approval of `execution_id` waits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stage = self.state()["Approval"]
            latest = stage["actionStates"][0].get("latestExecution", {})
            if stage.get("latestExecution", {}).get("pipelineExecutionId") == execution_id \
                    and latest.get("token"):
                return str(latest["token"])
            if self.execution(execution_id)["status"] != "InProgress":
                raise AssertionError(f"execution ended before the approval: "
                                     f"{self.actions(execution_id)}")
            time.sleep(1)
        raise AssertionError("the approval never waited")

    def approve(self, execution_id: str) -> str:
        token = self.approval_token(execution_id)
        self.aws("codepipeline", "put-approval-result", "--pipeline-name", PIPELINE,
                 "--stage-name", "Approval", "--action-name", "ManualApproval", "--token", token,
                 "--result", "summary=QA looks good,status=Approved")
        return token

    def execution(self, execution_id: str) -> dict[str, Any]:
        return self.aws("codepipeline", "get-pipeline-execution", "--pipeline-name", PIPELINE,
                        "--pipeline-execution-id", execution_id)["pipelineExecution"]

    def wait(self, execution_id: str, timeout: float = 900) -> str:
        deadline = time.monotonic() + timeout
        while (status := self.execution(execution_id)["status"]) in ("InProgress", "Stopping"):
            assert time.monotonic() < deadline, f"execution {execution_id} did not end"
            time.sleep(1)
        return str(status)

    def actions(self, execution_id: str) -> dict[str, dict[str, Any]]:
        details = self.aws("codepipeline", "list-action-executions", "--pipeline-name",
                           PIPELINE, "--filter",
                           f"pipelineExecutionId={execution_id}")["actionExecutionDetails"]
        return {f"{d['stageName']}.{d['actionName']}": d
                for d in sorted(details, key=lambda d: d["startTime"])}

    def prod_version(self) -> str:
        out = self.settings.home / "prod.json"
        self.aws("sagemaker-runtime", "invoke-endpoint", "--endpoint-name", PROD,
                 "--content-type", "text/csv", "--accept", "application/json", "--body",
                 "1,female,29", str(out))
        return str(json.loads(out.read_text())["model_version"])


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory):
    doors = Doors(tmp_path_factory.mktemp("doors"))
    start_background(doors.settings)
    yield doors
    stop(doors.settings)


@pytest.fixture(scope="module")
def first_release(doors: Doors) -> dict[str, Any]:
    connection = doors.aws("codeconnections", "create-connection", "--provider-type", "GitHub",
                           "--connection-name", "sagepipe-github")["ConnectionArn"]
    parameters = {**PARAMETERS, "CodeConnectionArn": connection}
    doors.aws("cloudformation", "create-stack", "--stack-name", STACK, "--template-body",
              "file://CodePipeline/pipeline.yaml", "--capabilities",
              "CAPABILITY_NAMED_IAM", "--parameters",
              *[f"ParameterKey={k},ParameterValue={v}" for k, v in parameters.items()])
    doors.aws("cloudformation", "wait", "stack-create-complete", "--stack-name", STACK)
    remote = subprocess.run([str(BIN / "sagepipe"), "--home", str(doors.settings.home),
                             "remote"], capture_output=True, text=True, check=True).stdout.strip()
    doors.git("remote", "add", "local", remote)
    execution_id = doors.push()
    token = doors.approve(execution_id)
    return {"execution": execution_id, "token": token, "status": doors.wait(execution_id)}


def test_the_first_push_releases_to_prod_after_the_emailed_approval(doors, first_release):
    assert first_release["status"] == "Succeeded", doors.actions(first_release["execution"])
    actions = doors.actions(first_release["execution"])
    order = list(actions)
    assert order[0] == "Source.Source"
    assert set(order[1:3]) == {"Build.UnitTests", "Build.BuildImage"}  # in parallel: runOrder 1
    assert order[3:5] == ["Build.DeployTrainingWorkflow", "Build.Train"]
    assert {a["status"] for a in actions.values()} == {"Succeeded"}
    assert doors.prod_version().startswith("sagepipe-train-")
    emails = [message_from_bytes(p.read_bytes(), policy=policy.default)
              for p in sorted((doors.settings.home / "outbox").glob("*.eml"))]
    approval = next(m for m in emails if first_release["token"] in m.get_content())
    assert approval["Subject"].strip() == (  # a folded header: its first line is empty
        "APPROVAL NEEDED: AWS CodePipeline sagepipe-pipeline for action ManualApproval")
    assert approval["To"] == PARAMETERS["ApprovalEmail"]
    body = approval.get_content()
    assert f"Release commit {doors.base}" in body and "model.tar.gz" in body
    assert "QA: PASSED qa sagepipe-qa: accuracy" in body
    assert "codepipeline put-approval-result --pipeline-name sagepipe-pipeline" in body
    assert "approve --comment" in body
    with pytest.raises(ClientError):  # the QA endpoint is torn down after the release
        client_for(doors.settings, "sagemaker").describe_endpoint(EndpointName="sagepipe-qa")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in doors.aws(
        "cloudformation", "describe-stacks", "--stack-name", "sagepipe-api")["Stacks"][0][
        "Outputs"]}
    reply = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "--aws-sigv4", "aws:amz:us-east-1:execute-api",
         "--user", f"{doors.env['AWS_ACCESS_KEY_ID']}:{doors.env['AWS_SECRET_ACCESS_KEY']}",
         "-H", "Content-Type: application/json", "-d",
         '{"records": [{"Pclass": 1, "Sex": "female", "Age": 29}]}',
         outputs["EndpointURL"] + "predict"], capture_output=True, text=True, check=True)
    assert json.loads(reply.stdout)["endpoint"] == PROD


def test_a_model_change_reaches_prod_blue_green_with_no_failed_call(doors, first_release):
    before = doors.prod_version()
    doors.commit_hyperparameters("more trees", n_estimators="120")
    prod = client_for(doors.settings, "sagemaker-runtime")
    calls: dict[str, Any] = {"ok": 0, "failed": 0, "versions": [before]}
    done = threading.Event()

    def call_prod() -> None:
        while not done.is_set():
            try:
                version = json.loads(prod.invoke_endpoint(
                    EndpointName=PROD, Body=b"1,female,29", ContentType="text/csv",
                    Accept="application/json")["Body"].read())["model_version"]
            except (ClientError, BotoCoreError):
                calls["failed"] += 1
                continue
            calls["ok"] += 1
            if version != calls["versions"][-1]:
                calls["versions"].append(version)

    caller = threading.Thread(target=call_prod)
    caller.start()
    try:
        execution_id = doors.push()
        doors.approve(execution_id)
        status = doors.wait(execution_id)
    finally:
        done.set()
        caller.join()
    assert status == "Succeeded", doors.actions(execution_id)
    after = doors.prod_version()
    assert after != before
    assert calls["failed"] == 0 and calls["ok"] > 0
    assert calls["versions"] == [before, after]  # switched once, never back
    endpoint = client_for(doors.settings, "sagemaker").describe_endpoint(EndpointName=PROD)
    assert endpoint["EndpointStatus"] == "InService"


def test_a_push_that_fails_qa_leaves_prod_as_it_was(doors, first_release):
    before = doors.prod_version()
    doors.commit_hyperparameters("a deliberately bad model", max_depth="1", n_estimators="1")
    execution_id = doors.push()
    assert doors.wait(execution_id) == "Failed"
    actions = doors.actions(execution_id)
    assert actions["QA.QATests"]["status"] == "Failed"
    assert "Approval.ManualApproval" not in actions
    build = doors.aws("codebuild", "batch-get-builds", "--ids", actions["QA.QATests"][
        "output"]["executionResult"]["externalExecutionId"])["builds"][0]
    log = "\n".join(e["message"] for e in doors.aws(
        "logs", "get-log-events", "--log-group-name", build["logs"]["groupName"],
        "--log-stream-name", build["logs"]["streamName"], "--start-from-head")["events"])
    assert "test_accuracy" in log and "floor" in log
    assert doors.prod_version() == before


def test_delete_stack_removes_the_pipeline_and_its_projects(doors, first_release):
    # In the order `sagepipe teardown` deletes them in AWS: the API's, the batch inference's
    # and the training state machine's roles have the pipeline stack's permissions boundaries
    # attached, which cannot be deleted while they are (as in AWS).
    for stack in ("sagepipe-api", "sagepipe-batch-inference", "sagepipe-endpoint-prod",
                  "sagepipe-training"):
        stack_id = doors.aws("cloudformation", "describe-stacks", "--stack-name", stack)[
            "Stacks"][0]["StackId"]
        doors.aws("cloudformation", "delete-stack", "--stack-name", stack)
        while (status := doors.aws("cloudformation", "describe-stacks", "--stack-name",
                                   stack_id)["Stacks"][0]["StackStatus"]) == "DELETE_IN_PROGRESS":
            time.sleep(1)
        assert status == "DELETE_COMPLETE"
    doors.aws("cloudformation", "delete-stack", "--stack-name", STACK)
    doors.aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", STACK)
    pipelines = doors.aws("codepipeline", "list-pipelines")["pipelines"]
    assert PIPELINE not in [p["name"] for p in pipelines]
    assert doors.aws("codebuild", "list-projects")["projects"] == []
    buckets = [b["Name"] for b in doors.aws("s3api", "list-buckets")["Buckets"]]
    assert "sagepipe-artifacts-000000000000-us-east-1" in buckets  # retained, as in AWS
