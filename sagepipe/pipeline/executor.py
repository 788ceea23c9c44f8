"""Runs one execution of the pipeline: stages in order, actions by RunOrder, artifacts and
variables passed along, every transition recorded in the execution history."""

from __future__ import annotations

import re
import subprocess
import time
import traceback
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console

from sagepipe.clients import client
from sagepipe.config import Settings
from sagepipe.pipeline.actions import PROVIDERS, ActionFailed, Run
from sagepipe.pipeline.definition import Action, load_pipeline
from sagepipe.pipeline.history import History
from sagepipe.server import start_background
from sagepipe.store import Store

VARIABLE = re.compile(r"#\{([A-Za-z0-9_@\-]+)\.([A-Za-z0-9_@\-]+)\}")


class PipelineError(RuntimeError):
    """The pipeline cannot start (bad template, unsupported action, not a git checkout)."""


def substitute(value: Any, variables: dict[str, dict[str, str]]) -> Any:
    """Resolve `#{Namespace.Variable}` in every string of an action's configuration."""
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match[str]) -> str:
        namespace, name = match.groups()
        if name not in variables.get(namespace, {}):
            raise ActionFailed(f"variable #{{{namespace}.{name}}} is not defined by any earlier "
                               "action (check the action's Namespace and exported variables)")
        return variables[namespace][name]

    return VARIABLE.sub(lookup, value)


def commit_info(repo: Path) -> tuple[dict[str, str], list[str]]:
    """The HEAD commit's CodePipeline source variables, and the uncommitted changes."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise PipelineError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
        return done.stdout.strip()

    sha = git("rev-parse", "HEAD")
    info = {"CommitId": sha, "BranchName": git("rev-parse", "--abbrev-ref", "HEAD"),
            "CommitMessage": git("log", "-1", "--format=%s", sha),
            "AuthorDate": git("log", "-1", "--format=%aI", sha),
            "AuthorDisplayName": git("log", "-1", "--format=%an", sha)}
    dirty = [line for line in git("status", "--porcelain").splitlines() if line]
    return info, dirty


class Executor:
    def __init__(self, settings: Settings, repo: Path, template: Path,
                 parameters: Path | None, auto_approve: bool = False,
                 console: Console | None = None) -> None:
        self.settings = settings
        self.repo = repo
        self.console = console or Console(soft_wrap=True)
        self.auto_approve = auto_approve
        self.pipeline = load_pipeline(template, parameters, settings)
        self.history = History(Store(settings.db_path))
        unsupported = [f"{a.label} ({a.category}/{a.provider})" for a in self._actions()
                       if (a.category, a.provider) not in PROVIDERS]
        if unsupported:
            supported = ", ".join(f"{c}/{p}" for c, p in PROVIDERS)
            raise PipelineError(f"actions not emulated locally: {', '.join(unsupported)} "
                                f"(supported: {supported})")

    def _actions(self) -> list[Action]:
        return [a for s in self.pipeline.stages for a in s.actions]

    def say(self, line: str) -> None:
        self.console.print(line, highlight=False, markup=False)

    def run(self, trigger: str = "manual") -> dict[str, Any]:
        commit, dirty = commit_info(self.repo)
        if dirty:
            self.console.print(f"[yellow]note:[/yellow] {len(dirty)} uncommitted change(s) are "
                               f"not part of this run; it builds commit {commit['CommitId'][:10]}"
                               " (commit them to include them)")
        start_background(self.settings)
        self._ensure_bucket(self.pipeline.artifact_bucket)
        doc = self.history.start(self.pipeline.name, commit["CommitId"], trigger,
                                 [(s.name, [a.name for a in s.actions])
                                  for s in self.pipeline.stages])
        run = Run(settings=self.settings, repo=self.repo, pipeline=self.pipeline,
                  execution_id=doc["ExecutionId"],
                  workdir=self.settings.subdir("pipeline") / doc["ExecutionId"],
                  history=self.history, commit=commit, auto_approve=self.auto_approve,
                  log=self.say)
        self.console.print(f"[bold]pipeline {self.pipeline.name}[/bold] execution "
                           f"{doc['ExecutionId']} on {commit['CommitId'][:10]} "
                           f"({commit['CommitMessage']})")
        variables: dict[str, dict[str, str]] = {
            "codepipeline": {"PipelineExecutionId": doc["ExecutionId"]}}
        for stage_doc, stage in zip(doc["Stages"], self.pipeline.stages, strict=True):
            stage_doc["Status"] = "InProgress"
            self.console.rule(f"[bold]{stage.name}")
            for group in stage.run_groups():
                for action in group:
                    if not self._run_action(run, doc, stage_doc, action, variables):
                        return self._finish(doc, stage_doc, "Failed")
            stage_doc["Status"] = "Succeeded"
            self.history.save(doc)
        return self._finish(doc, None, "Succeeded")

    def _run_action(self, run: Run, doc: dict[str, Any], stage_doc: dict[str, Any],
                    action: Action, variables: dict[str, dict[str, str]]) -> bool:
        record = next(a for a in stage_doc["Actions"] if a["Name"] == action.name)
        record.update(Status="InProgress", Started=time.time(), Log=str(run.log_path(action)))
        self.history.save(doc)
        run.log_path(action).parent.mkdir(parents=True, exist_ok=True)
        with self.console.status(f"{action.label} ({action.provider})"):
            try:
                config = substitute(action.configuration, variables)
                exported = PROVIDERS[(action.category, action.provider)](run, action, config)
            except Exception as exc:  # any failure stops the pipeline with its reason
                if not isinstance(exc, ActionFailed):
                    exc = self._bug(run, action, exc)
                record.update(Status="Failed", Ended=time.time(), Error=str(exc),
                              Excerpt=exc.excerpt)
                self.console.print(f"[red]✘ {action.label}[/red] failed: {exc}")
                if exc.excerpt:
                    self.console.print(f"[dim]--- last lines of {run.log_path(action)} ---",
                                       highlight=False)
                    self.say(exc.excerpt)
                return False
        record.update(Status="Succeeded", Ended=time.time(), Variables=exported)
        if action.namespace:
            variables[action.namespace] = exported
        self.console.print(f"[green]✔ {action.label}[/green] "
                           f"{record['Ended'] - record['Started']:.1f}s")
        self.history.save(doc)
        return True

    @staticmethod
    def _bug(run: Run, action: Action, exc: Exception) -> ActionFailed:
        """A failure that is not the action's own (a bug, here or in a provider): one line on
        the console like any failure, the traceback in the action's log to find it."""
        with run.log_path(action).open("a") as log:
            log.write(f"\n[sagepipe] the action failed on an unexpected error:\n"
                      f"{traceback.format_exc()}")
        return ActionFailed(f"{type(exc).__name__}: {exc} (traceback in {run.log_path(action)})")

    def _finish(self, doc: dict[str, Any], stage_doc: dict[str, Any] | None,
                status: str) -> dict[str, Any]:
        if stage_doc is not None:
            stage_doc["Status"] = status
        doc.update(Status=status, Ended=time.time())
        self.history.save(doc)
        colour = "green" if status == "Succeeded" else "red"
        self.console.print(f"[{colour}]pipeline {status}[/{colour}] in "
                           f"{doc['Ended'] - doc['Started']:.1f}s")
        return doc

    def _ensure_bucket(self, bucket: str) -> None:
        s3 = client(self.settings, "s3")
        try:
            s3.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise PipelineError(f"cannot create the artifact bucket {bucket}: {exc}") from None


def executor_for(settings: Settings, repo: Path, auto_approve: bool,
                 template: Path | None = None) -> Executor:
    """The executor for the repository's own pipeline definition."""
    template = template or repo / "CodePipeline" / "pipeline.yaml"
    parameters = template.parent / "local-parameters.json"
    return Executor(settings, repo, template, parameters if parameters.exists() else None,
                    auto_approve=auto_approve)
