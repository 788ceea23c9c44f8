"""A small pipeline unlike the project's own (other stage and action names, namespaces,
variables, a CloudFormation deploy of a one-topic stack, a manual approval), in a throw-away git
repository, declared through the CodePipeline API: what the tests of the local CodePipeline run.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from sagepipe.clients import internal
from sagepipe.config import Settings

MAKE = """version: 0.2
env:
  exported-variables: [GREETING]
phases:
  build:
    commands:
      - test -n "$COMMIT" && test "$COMMIT" = "$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - export GREETING="hello-$FLAVOUR"
      - mkdir -p out && cp ci/stack.yaml out/
      - |
        marker() { aws s3api head-object --bucket "$BUCKET" --key "$1" >/dev/null 2>&1; }
        if marker make-fails; then echo "make fails on purpose"; exit 1; fi
        if marker make-sleeps; then sleep 60; fi
artifacts:
  base-directory: out
  files: [stack.yaml]
"""
STACK = """Parameters:
  Greeting: {Type: String}
Resources:
  Alerts: {Type: AWS::SNS::Topic}
Outputs:
  Shout: {Value: !Sub "${Greeting}!"}
"""
VERIFY = """version: 0.2
phases:
  build:
    commands: ['test "$SHOUT" = "hello-vanilla!"', echo verified]
"""
ENVIRONMENT = {"type": "LINUX_CONTAINER", "computeType": "BUILD_GENERAL1_SMALL",
               "image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c",
                           "user.name=t", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "ci").mkdir(parents=True)
    (repo / "ci" / "make.yml").write_text(MAKE)
    (repo / "ci" / "verify.yml").write_text(VERIFY)
    (repo / "ci" / "stack.yaml").write_text(STACK)
    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tiny pipeline")
    return repo


def commit(repo: Path, message: str) -> str:
    (repo / "ci" / "note.txt").write_text(f"{message}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


class Tiny:
    """One tiny pipeline, its projects, bucket and connection, in the session's local AWS."""

    def __init__(self, settings: Settings, aws: Any, *, stages: list[str] | None = None,
                 approval_topic: str | None = None,
                 extra_stages: list[dict[str, Any]] | None = None, **pipeline: Any) -> None:
        self.settings = settings
        self.aws = aws
        self.api = aws("codepipeline")
        self.name = f"tiny-{uuid.uuid4().hex[:8]}"
        self.bucket = f"{self.name}-artifacts"
        self.repository = f"me/{self.name}"
        aws("s3").create_bucket(Bucket=self.bucket)
        self.connection = aws("codeconnections").create_connection(
            ProviderType="GitHub", ConnectionName=self.name)["ConnectionArn"]
        for project, spec, variables in (
                ("make", "ci/make.yml", [{"name": "FLAVOUR", "value": "vanilla"},
                                         {"name": "BUCKET", "value": self.bucket}]),
                ("verify", "ci/verify.yml", [])):
            aws("codebuild").create_project(
                name=f"{self.name}-{project}", serviceRole="arn:aws:iam::000000000000:role/b",
                source={"type": "CODEPIPELINE", "buildspec": spec},
                artifacts={"type": "CODEPIPELINE"},
                environment={**ENVIRONMENT, "environmentVariables": variables})
        chosen = stages or ["Checkout", "Make", "Ship", "Gate", "Verify"]
        self.declaration = {
            "name": self.name, "roleArn": "arn:aws:iam::000000000000:role/p",
            "artifactStore": {"type": "S3", "location": self.bucket}, "pipelineType": "V2",
            "stages": [s for s in self.stages(approval_topic) if s["name"] in chosen]
            + (extra_stages or []),
            **pipeline}
        self.created = aws("codepipeline").create_pipeline(pipeline=self.declaration)

    def stages(self, topic: str | None) -> list[dict[str, Any]]:
        def action(name: str, category: str, provider: str, configuration: dict[str, str],
                   **rest: Any) -> dict[str, Any]:
            return {"name": name, "actionTypeId": {"category": category, "owner": "AWS",
                                                   "provider": provider, "version": "1"},
                    "configuration": configuration, **rest}

        return [
            {"name": "Checkout", "actions": [action(
                "Code", "Source", "CodeStarSourceConnection",
                {"ConnectionArn": self.connection, "FullRepositoryId": self.repository,
                 "BranchName": "main"}, namespace="Src", outputArtifacts=[{"name": "Code"}])]},
            {"name": "Make", "actions": [action(
                "Compile", "Build", "CodeBuild",
                {"ProjectName": f"{self.name}-make",
                 "EnvironmentVariables": '[{"name":"COMMIT","value":"#{Src.CommitId}"}]'},
                namespace="Make", inputArtifacts=[{"name": "Code"}],
                outputArtifacts=[{"name": "Built"}])]},
            {"name": "Ship", "actions": [action(
                "Stack", "Deploy", "CloudFormation",
                {"ActionMode": "CREATE_UPDATE", "StackName": f"{self.name}-stack",
                 "TemplatePath": "Built::stack.yaml",
                 "ParameterOverrides": '{"Greeting": "#{Make.GREETING}"}',
                 "OutputFileName": "outputs.json"},
                namespace="Shipped", inputArtifacts=[{"name": "Built"}],
                outputArtifacts=[{"name": "StackOut"}])]},
            {"name": "Gate", "actions": [action(
                "Review", "Approval", "Manual",
                {"CustomData": "greeting #{Make.GREETING}",
                 "ExternalEntityLink": "https://example.com/#{Src.CommitId}",
                 **({"NotificationArn": topic} if topic else {})})]},
            {"name": "Verify", "actions": [action(
                "Check", "Test", "CodeBuild",
                {"ProjectName": f"{self.name}-verify",
                 "EnvironmentVariables": '[{"name":"SHOUT","value":"#{Shipped.Shout}"}]'},
                inputArtifacts=[{"name": "Code"}])]},
        ]

    def remote(self) -> str:
        return next(r["url"] for r in internal(self.settings, "GET", "git/repositories")
                    if r["FullRepositoryId"] == self.repository)

    def push(self, repo: Path, ref: str = "HEAD:refs/heads/main") -> str:
        """`git push` to the local remote; git's output (the hook's lines among it)."""
        done = subprocess.run(["git", "-C", str(repo), "push", "-q", "--force", self.remote(),
                               ref], check=True, capture_output=True, text=True)
        return done.stderr

    def executions(self) -> list[dict[str, Any]]:
        return self.api.list_pipeline_executions(pipelineName=self.name)[
            "pipelineExecutionSummaries"]

    def wait(self, execution_id: str, until: tuple[str, ...] = ("Succeeded", "Failed",
                                                                "Stopped", "Superseded"),
             timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            execution = self.api.get_pipeline_execution(
                pipelineName=self.name, pipelineExecutionId=execution_id)["pipelineExecution"]
            if execution["status"] in until:
                return execution
            time.sleep(0.3)
        raise AssertionError(f"execution {execution_id} did not reach {until}")

    def actions(self, execution_id: str) -> dict[str, dict[str, Any]]:
        """Each action's latest execution in `execution_id`, by `Stage.Action`."""
        details = self.api.list_action_executions(
            pipelineName=self.name, filter={"pipelineExecutionId": execution_id})[
            "actionExecutionDetails"]
        found: dict[str, dict[str, Any]] = {}
        for detail in sorted(details, key=lambda d: d["startTime"]):
            found[f"{detail['stageName']}.{detail['actionName']}"] = detail
        return found

    def statuses(self, execution_id: str) -> dict[str, str]:
        return {k: v["status"] for k, v in self.actions(execution_id).items()}

    def token(self, stage: str = "Gate", action: str = "Review",
              timeout: float = 120) -> str:
        """The token of the waiting approval, from GetPipelineState."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for state in self.api.get_pipeline_state(name=self.name)["stageStates"]:
                for action_state in state["actionStates"]:
                    token = action_state.get("latestExecution", {}).get("token")
                    if state["stageName"] == stage and action_state["actionName"] == action \
                            and token:
                        return token
            time.sleep(0.3)
        raise AssertionError("the approval never waited")
