"""The action types the local CodePipeline runs, each a function of an `ActionRun` (the action's
resolved configuration, its input artifacts, the clients it calls AWS with) that returns its
result or raises ActionFailed with CodePipeline's error message. They call the other services
through their AWS APIs, as CodePipeline does in AWS: CodeBuild's StartBuild and BatchGetBuilds,
CloudFormation (deploy.py), SNS for the approval request (approval.py).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from sagepipe.clients import client
from sagepipe.codebuild.builds import INITIATOR_METADATA, REVISION_METADATA
from sagepipe.codepipeline.artifacts import ArtifactStore, Location
from sagepipe.codepipeline.declaration import Action, Declaration
from sagepipe.codepipeline.git import GitError, Repositories
from sagepipe.config import Settings

POLL_SECONDS = 0.2  # locally a poll costs a few milliseconds


class ActionFailed(RuntimeError):
    """The action failed; the message is what CodePipeline shows in its error details."""

    def __init__(self, message: str, code: str = "JobFailed") -> None:
        super().__init__(message)
        self.code = code


class Abandoned(Exception):
    """The execution was stopped with abandon: the action ends without a result."""


@dataclass
class ActionResult:
    variables: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Location] = field(default_factory=dict)
    summary: str | None = None


@dataclass
class ActionRun:
    """What one action execution may use."""

    settings: Settings
    pipeline: Declaration
    execution_id: str
    action: Action
    config: dict[str, str]
    inputs: dict[str, Location]
    revision: str | None  # a source action's commit, decided when the execution started
    cancel: threading.Event
    record: Callable[..., None]  # sets fields of the action execution (externalExecutionId, ...)
    repositories: Repositories
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(self.settings, service)
        return self._clients[service]

    @property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.client("s3"), self.pipeline.artifact_bucket, self.pipeline.name)

    def input_file(self, reference: str) -> bytes:
        """`Artifact::path/in/artifact` -> that file of the input artifact."""
        name, sep, inner = reference.partition("::")
        if not sep or name not in self.inputs:
            raise ActionFailed(f"{reference!r} does not name a file of an input artifact of "
                               f"{self.action.label} (its inputs: "
                               f"{', '.join(self.inputs) or 'none'})")
        try:
            return self.artifacts.read(self.inputs[name], inner)
        except FileNotFoundError:
            raise ActionFailed(f"File {inner} does not exist in artifact {name}") from None

    def sleep(self) -> None:
        """Wait before polling again; Abandoned once the execution is abandoned."""
        if self.cancel.wait(POLL_SECONDS):
            raise Abandoned


def aws_reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)


# -- Source: CodeStarSourceConnection -------------------------------------------------------
def source(run: ActionRun) -> ActionResult:
    """The commit (pushed to the local Git remote) as a CODE_ZIP artifact, with the source
    variables CodePipeline gives it."""
    config = run.config
    if config.get("OutputArtifactFormat", "CODE_ZIP") != "CODE_ZIP":
        raise ActionFailed("OutputArtifactFormat CODEBUILD_CLONE_REF is not emulated locally: "
                           "use CODE_ZIP")
    connection_arn = config["ConnectionArn"]
    try:
        connection = run.client("codeconnections").get_connection(
            ConnectionArn=connection_arn)["Connection"]
    except (ClientError, BotoCoreError) as exc:
        raise ActionFailed(f"Connection {connection_arn} cannot be used: "
                           f"{aws_reason(exc)}") from None
    if connection["ConnectionStatus"] != "AVAILABLE":
        raise ActionFailed(f"Connection {connection_arn} is {connection['ConnectionStatus']}")
    repository, branch = config["FullRepositoryId"], config["BranchName"]
    if run.revision is None:
        raise ActionFailed(f"Branch {branch} does not exist in {repository}: push it to the "
                           "local Git remote (`sagepipe remote`)")
    try:
        commit = run.repositories.commit(repository, run.revision)
        with tempfile.TemporaryDirectory() as tmp:
            archive = run.repositories.archive(repository, commit.id, Path(tmp) / "source.zip")
            location = run.artifacts.new_location(run.action.outputs[0])
            run.artifacts.put_zip(archive, location, {
                REVISION_METADATA: commit.id,
                INITIATOR_METADATA: f"codepipeline/{run.pipeline.name}"})
    except GitError as exc:
        raise ActionFailed(f"Could not read commit {run.revision} of {repository}: {exc}") \
            from None
    except (ClientError, BotoCoreError) as exc:
        raise ActionFailed(f"Could not upload the source to the artifact store: "
                           f"{aws_reason(exc)}") from None
    run.record(externalExecutionId=commit.id)
    return ActionResult(
        variables={"CommitId": commit.id, "CommitMessage": commit.message,
                   "AuthorDate": commit.date, "BranchName": branch,
                   "FullRepositoryName": repository, "ConnectionArn": connection_arn},
        outputs={run.action.outputs[0]: location}, summary=commit.summary)


# -- Build and Test: CodeBuild ----------------------------------------------------------------
def codebuild(run: ActionRun) -> ActionResult:
    """StartBuild of the project on the input artifacts, then BatchGetBuilds until it ends."""
    action, config = run.action, run.config
    if config.get("BatchEnabled", "false").lower() == "true":
        raise ActionFailed("Batch builds (BatchEnabled) are not emulated locally")
    if len(action.outputs) > 1:
        raise ActionFailed("Several output artifacts (secondary artifacts) are not emulated "
                           "locally: give the CodeBuild action one output artifact")
    try:
        overrides = json.loads(config.get("EnvironmentVariables") or "[]")
    except json.JSONDecodeError as exc:
        raise ActionFailed(f"EnvironmentVariables is not JSON: {exc}") from None
    primary = config.get("PrimarySource") or action.inputs[0]
    source = run.inputs[primary]
    output = run.artifacts.new_location(action.outputs[0]) if action.outputs else None
    request: dict[str, Any] = {
        "projectName": config["ProjectName"], "sourceTypeOverride": "S3",
        "sourceLocationOverride": f"{source['bucket']}/{source['key']}",
        "secondarySourcesOverride": [
            {"type": "S3", "location": f"{loc['bucket']}/{loc['key']}", "sourceIdentifier": name}
            for name, loc in run.inputs.items() if name != primary],
        "artifactsOverride": {"type": "NO_ARTIFACTS"} if output is None else {
            "type": "S3", "location": output["bucket"], "path": output["key"].rsplit("/", 1)[0],
            "name": output["key"].rsplit("/", 1)[1], "packaging": "ZIP",
            "namespaceType": "NONE"},
        "environmentVariablesOverride": [{"name": v["name"], "value": v["value"],
                                          "type": v.get("type", "PLAINTEXT")}
                                         for v in overrides]}
    codebuild_api = run.client("codebuild")
    try:
        build = codebuild_api.start_build(**request)["build"]
    except (ClientError, BotoCoreError) as exc:
        raise ActionFailed(f"Could not start the build: {aws_reason(exc)}") from None
    run.record(externalExecutionId=build["id"], externalExecutionUrl=(
        f"https://console.aws.amazon.com/codebuild/home?region={run.settings.region}#/builds/"
        f"{quote(build['id'], safe='')}/view/new"))
    try:
        while not build["buildComplete"]:
            run.sleep()
            build = codebuild_api.batch_get_builds(ids=[build["id"]])["builds"][0]
    except Abandoned:
        codebuild_api.stop_build(id=build["id"])
        raise
    if build["buildStatus"] != "SUCCEEDED":
        raise ActionFailed(build_failure(build))
    return ActionResult(
        variables={v["name"]: v["value"] for v in build.get("exportedEnvironmentVariables", [])},
        outputs={action.outputs[0]: output} if output else {})


def build_failure(build: dict[str, Any]) -> str:
    """CodePipeline's message for a failed build: its state, and the phase that failed."""
    message = f"Build terminated with state: {build['buildStatus']}"
    failed = next((p for p in build["phases"]
                   if p.get("phaseStatus") not in (None, "SUCCEEDED")), None)
    if failed:
        context = (failed.get("contexts") or [{}])[0]
        message += (f". Phase: {failed['phaseType']}, Code: {context.get('statusCode')}, "
                    f"Message: {context.get('message')}")
    return message


def wait_for(run: ActionRun, ready: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise ActionFailed(f"{what} did not finish within {timeout / 60:.0f} minutes")
        run.sleep()
