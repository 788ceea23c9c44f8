"""The action providers the local pipeline runs: CodeStarSourceConnection, CodeBuild,
CloudFormation and Manual approval. Each takes an action's (variable-substituted)
configuration and returns the variables it exports; a failure raises ActionFailed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sagepipe.clients import local_env
from sagepipe.cloudformation.providers import Context
from sagepipe.cloudformation.stacks import StackError, Stacks
from sagepipe.cloudformation.template import TemplateError, load
from sagepipe.config import DEFAULT_PORT, Settings, arn
from sagepipe.pipeline.approval import approval_email, write_eml
from sagepipe.pipeline.codebuild import BuildspecError, run_build
from sagepipe.pipeline.definition import Action, Pipeline
from sagepipe.pipeline.history import History
from sagepipe.processes import log_tail

DOCKER_SHIM = Path(__file__).parent / "bin"


class ActionFailed(RuntimeError):
    def __init__(self, message: str, excerpt: str = "") -> None:
        super().__init__(message)
        self.excerpt = excerpt


@dataclass
class Run:
    """What every action of one execution shares."""

    settings: Settings
    repo: Path
    pipeline: Pipeline
    execution_id: str
    workdir: Path
    history: History
    commit: dict[str, str]
    auto_approve: bool = False
    log: Any = print
    artifacts: dict[str, Path] = field(default_factory=dict)

    def artifact_dir(self, name: str) -> Path:
        path = self.workdir / "artifacts" / name
        path.mkdir(parents=True, exist_ok=True)
        self.artifacts[name] = path
        return path

    def artifact_file(self, reference: str) -> Path:
        """`ArtifactName::path/in/artifact` -> the file on disk."""
        name, sep, inner = reference.partition("::")
        if not sep or name not in self.artifacts:
            raise ActionFailed(f"{reference!r} does not name an input artifact "
                               f"(known: {', '.join(self.artifacts) or 'none'})")
        path = self.artifacts[name] / inner
        if not path.is_file():
            raise ActionFailed(f"{inner} is not in artifact {name}")
        return path

    def log_path(self, action: Action) -> Path:
        return self.workdir / "logs" / f"{action.stage}.{action.name}.log"


class Provider(Protocol):
    def __call__(self, run: Run, action: Action, config: dict[str, Any]) -> dict[str, str]: ...


# -- Source ------------------------------------------------------------------------------
def source(run: Run, action: Action, config: dict[str, Any]) -> dict[str, str]:
    """A snapshot of the commit being built (`git archive`), like CODE_ZIP."""
    out = run.artifact_dir(action.outputs[0])
    archive = subprocess.run(["git", "-C", str(run.repo), "archive", "--format=tar",
                              run.commit["CommitId"]], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return {**run.commit, "BranchName": config.get("BranchName", run.commit["BranchName"]),
            "FullRepositoryName": config.get("FullRepositoryId", ""),
            "ConnectionArn": config.get("ConnectionArn", ""), "ProviderType": "GitHub"}


# -- CodeBuild ---------------------------------------------------------------------------
def _project_env(project: dict[str, Any], overrides: str | None) -> dict[str, str]:
    variables = list(project.get("Environment", {}).get("EnvironmentVariables", []))
    variables += [{"Name": v["name"], "Value": v["value"], "Type": v.get("type", "PLAINTEXT")}
                  for v in json.loads(overrides or "[]")]
    env = {}
    for var in variables:
        if var.get("Type", "PLAINTEXT") != "PLAINTEXT":
            raise ActionFailed(f"environment variable {var['Name']} is of type {var['Type']}, "
                               "which the local AWS does not emulate")
        env[var["Name"]] = str(var["Value"])
    return env


def codebuild(run: Run, action: Action, config: dict[str, Any]) -> dict[str, str]:
    project = run.pipeline.projects.get(config["ProjectName"])
    if project is None:
        raise ActionFailed(f"CodeBuild project {config['ProjectName']} is not in the template")
    spec_location = project.get("Source", {}).get("BuildSpec") or "buildspec.yml"
    if "\n" in spec_location:
        raise ActionFailed("inline buildspecs are not supported: keep the buildspec in a file "
                           "next to what it runs and give its path")
    primary = config.get("PrimarySource") or action.inputs[0]
    build_dir = run.workdir / "builds" / action.name
    src = build_dir / "src"
    shutil.copytree(run.artifacts[primary], src, symlinks=True)
    build_id = f"{config['ProjectName']}:{uuid.uuid4()}"
    project_env = _project_env(project, config.get("EnvironmentVariables"))
    env = {**os.environ, **local_env(run.settings), **project_env,
           "PATH": os.pathsep.join([str(DOCKER_SHIM), str(Path(sys.executable).parent),
                                    os.environ.get("PATH", "")]),
           "SAGEPIPE_HOME": str(run.settings.home), "SAGEPIPE_PORT": str(run.settings.port),
           "CODEBUILD_BUILD_ID": build_id,
           "CODEBUILD_BUILD_ARN": arn("codebuild", f"build/{build_id}", run.settings.region),
           "CODEBUILD_BUILD_IMAGE": project.get("Environment", {}).get("Image", ""),
           "CODEBUILD_INITIATOR": f"codepipeline/{run.pipeline.name}",
           "CODEBUILD_RESOLVED_SOURCE_VERSION": run.commit["CommitId"],
           "CODEBUILD_SOURCE_VERSION": run.commit["CommitId"],
           "CODEBUILD_SRC_DIR": str(src), "CODEBUILD_START_TIME": str(int(time.time() * 1000)),
           "CODEBUILD_CI": "true"}
    for name in action.inputs:
        if name != primary:
            env[f"CODEBUILD_SRC_DIR_{name}"] = str(run.artifacts[name])
    env.pop("AWS_PROFILE", None)
    out = run.artifact_dir(action.outputs[0]) if action.outputs else None
    minutes = int(project.get("TimeoutInMinutes", 60))
    try:
        result = run_build(src / spec_location, src, env, build_dir / "work",
                           run.log_path(action), minutes * 60, out)
    except BuildspecError as exc:
        raise ActionFailed(str(exc), log_tail(run.log_path(action), 25)) from None
    for group, files in result.reports.items():
        for report in files:
            target = run.workdir / "reports" / action.name / group / report.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(report, target)
    if not result.succeeded:
        raise ActionFailed(f"build failed in phase {result.failed_phase}",
                           log_tail(run.log_path(action), 25))
    return result.exported


# -- CloudFormation ----------------------------------------------------------------------
def _parameter_overrides(run: Run, text: str | None) -> dict[str, str]:
    overrides = json.loads(text or "{}")
    for key, value in overrides.items():
        if isinstance(value, dict) and "Fn::GetParam" in value:
            artifact, path, field_name = value["Fn::GetParam"]
            data = json.loads(run.artifact_file(f"{artifact}::{path}").read_text())
            overrides[key] = data[field_name]
    return {k: str(v) for k, v in overrides.items()}


def cloudformation(run: Run, action: Action, config: dict[str, Any]) -> dict[str, str]:
    mode, stack = config["ActionMode"], config["StackName"]
    with run.log_path(action).open("a") as log:
        def say(line: str) -> None:
            log.write(line + "\n")
            log.flush()
            run.log(f"    {line}")

        stacks = Stacks(run.history.store, Context(run.settings, say))
        try:
            if mode == "DELETE_ONLY":
                stacks.delete(stack)
                return {}
            if mode not in ("CREATE_UPDATE", "REPLACE_ON_FAILURE"):
                raise ActionFailed(f"ActionMode {mode} is not emulated locally (supported: "
                                   "CREATE_UPDATE, REPLACE_ON_FAILURE, DELETE_ONLY)")
            parameters = {}
            if config.get("TemplateConfiguration"):
                conf = json.loads(run.artifact_file(config["TemplateConfiguration"]).read_text())
                parameters.update({k: str(v) for k, v in conf.get("Parameters", {}).items()})
            parameters.update(_parameter_overrides(run, config.get("ParameterOverrides")))
            body = load(run.artifact_file(config["TemplatePath"]))
            outputs = stacks.deploy(stack, body, parameters,
                                    replace_on_failure=mode == "REPLACE_ON_FAILURE")
        except (StackError, TemplateError, json.JSONDecodeError) as exc:
            raise ActionFailed(str(exc), log_tail(run.log_path(action), 25)) from None
    if action.outputs and config.get("OutputFileName"):
        out = run.artifact_dir(action.outputs[0]) / config["OutputFileName"]
        out.write_text(json.dumps(outputs, indent=2))
    return outputs


# -- Manual approval ---------------------------------------------------------------------
def manual_approval(run: Run, action: Action, config: dict[str, Any]) -> dict[str, str]:
    token = run.history.request_approval(run.execution_id, action.label)
    cli = "sagepipe"
    if run.settings.home != run.repo / ".sagepipe":
        cli += f" --home {run.settings.home}"
    if run.settings.port != DEFAULT_PORT:
        cli += f" --port {run.settings.port}"
    msg = approval_email(
        pipeline=run.pipeline.name, stage=action.stage, action=action.name,
        execution_id=run.execution_id,
        recipients=run.pipeline.subscriptions.get(config.get("NotificationArn", ""), []),
        custom_data=config.get("CustomData", ""), link=config.get("ExternalEntityLink", ""),
        approve_command=f"{cli} approve --comment 'looks good'",
        reject_command=f"{cli} reject --comment 'why'")
    path = write_eml(run.settings.home / "outbox", run.execution_id, action.name, msg)
    run.log(f"    approval email written to {path}")
    run.log("    " + msg.get_content().replace("\n", "\n    "))
    if run.auto_approve:
        run.history.decide(token, True, "auto-approved (--auto-approve)")
    while (decision := run.history.approval(token))["status"] == "Pending":
        time.sleep(0.5)
    run.log(f"    {decision['status']}: {decision['comment'] or '(no comment)'}")
    if decision["status"] != "Approved":
        raise ActionFailed(f"rejected: {decision['comment'] or 'no comment'}")
    return {}


PROVIDERS: dict[tuple[str, str], Provider] = {
    ("Source", "CodeStarSourceConnection"): source,
    ("Build", "CodeBuild"): codebuild,
    ("Test", "CodeBuild"): codebuild,
    ("Deploy", "CloudFormation"): cloudformation,
    ("Approval", "Manual"): manual_approval,
}
