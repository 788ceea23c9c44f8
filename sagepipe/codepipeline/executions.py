"""One pipeline execution, run by a thread of the local AWS: stages in order, each stage's
actions by runOrder (the actions of one runOrder in parallel), artifacts and `#{Namespace.Var}`
variables passed along, every transition written to the execution's document (state.py).

Stages are locked as CodePipeline locks them: one execution at a time in a stage. An execution
waiting to enter a stage is superseded by a newer one waiting for the same stage (SUPERSEDED,
the default), or waits its turn (QUEUED); PARALLEL executions do not wait for each other.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sagepipe.codepipeline.actions import (
    Abandoned,
    ActionFailed,
    ActionResult,
    ActionRun,
    codebuild,
    source,
)
from sagepipe.codepipeline.approval import manual_approval
from sagepipe.codepipeline.declaration import SOURCE, Action, Declaration, Stage
from sagepipe.codepipeline.deploy import cloudformation
from sagepipe.codepipeline.git import Repositories
from sagepipe.codepipeline.invoke import step_functions
from sagepipe.codepipeline.state import Doc, ExecutionGone, Executions
from sagepipe.config import Settings

log = logging.getLogger(__name__)
VARIABLE = re.compile(r"#\{([A-Za-z0-9@_\-]+)\.([A-Za-z0-9@_\-]+)\}")
WAIT_SECONDS = 0.5
Provider = Callable[[ActionRun], ActionResult]
PROVIDERS: dict[tuple[str, str], Provider] = {
    ("Source", SOURCE): source,
    ("Build", "CodeBuild"): codebuild,
    ("Test", "CodeBuild"): codebuild,
    ("Deploy", "CloudFormation"): cloudformation,
    ("Invoke", "StepFunctions"): step_functions,
}


class StageLocks:
    """Which execution is in which stage of a pipeline, and which wait to enter one."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holders: dict[tuple[str, str], str] = {}
        self._waiting: dict[tuple[str, str], dict[str, float]] = {}

    def enter(self, pipeline: str, stage: str, execution: str, started: float, mode: str,
              give_up: Callable[[], bool]) -> str:
        """`entered`, `superseded` (a newer execution waits for the same stage) or `given up`
        (`give_up()` became true: the execution is stopping)."""
        if mode == "PARALLEL":
            return "entered"
        key = (pipeline, stage)
        with self._changed:
            waiting = self._waiting.setdefault(key, {})
            waiting[execution] = started
            try:
                while True:
                    newer = any(t > started for t in waiting.values())
                    if mode == "SUPERSEDED" and newer:
                        return "superseded"
                    if give_up():
                        return "given up"
                    turn = not newer if mode == "SUPERSEDED" else \
                        started == min(waiting.values())
                    if key not in self._holders and turn:
                        self._holders[key] = execution
                        return "entered"
                    self._changed.wait(WAIT_SECONDS)
            finally:
                del waiting[execution]
                self._changed.notify_all()

    def leave(self, pipeline: str, stage: str, execution: str) -> None:
        with self._changed:
            if self._holders.get((pipeline, stage)) == execution:
                del self._holders[(pipeline, stage)]
            self._changed.notify_all()


def substitute(value: Any, variables: dict[str, dict[str, str]]) -> Any:
    """Resolve `#{Namespace.Variable}` in every string of an action's configuration."""
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match[str]) -> str:
        namespace, name = match.groups()
        if name not in variables.get(namespace, {}):
            raise ActionFailed(f"Variable #{{{namespace}.{name}}} could not be resolved: no "
                               "earlier action of this execution exported it (check the "
                               "action's namespace and its output variables)", "ConfigurationError")
        return variables[namespace][name]

    return VARIABLE.sub(lookup, value)


class ExecutionRun(threading.Thread):
    def __init__(self, executions: Executions, locks: StageLocks, settings: Settings,
                 repositories: Repositories, declaration: Declaration, execution_id: str,
                 first_stage: int = 0, retry_mode: str | None = None,
                 forget: Callable[[ExecutionRun], None] = lambda _run: None) -> None:
        super().__init__(daemon=True, name=f"execution {execution_id}")
        self.executions = executions
        self.locks = locks
        self.settings = settings
        self.repositories = repositories
        self.declaration = declaration
        self.execution_id = execution_id
        self.first_stage = first_stage
        self.retry_mode = retry_mode
        self.forget = forget
        self.cancel = threading.Event()  # abandon: in-progress actions end at once

    def run(self) -> None:
        try:
            self._run()
        except ExecutionGone:  # its pipeline was deleted: nothing left to record
            pass
        except Exception:  # a bug of ours: the execution fails, the traceback in the gateway log
            log.exception("execution %s failed on an internal error", self.execution_id)
            self._finish("Failed", "The local CodePipeline hit an internal error; see the "
                         "gateway log (`sagepipe logs gateway`)")
        finally:
            self.forget(self)

    def _doc(self) -> Doc:
        doc = self.executions.find(self.execution_id)
        if doc is None:
            raise ExecutionGone(self.execution_id)
        return doc

    def _update(self, change: Callable[[Doc], None]) -> Doc:
        def stamped(doc: Doc) -> None:
            change(doc)
            doc["lastUpdateTime"] = time.time()
        return self.executions.update(self.execution_id, stamped)

    def _stopping(self) -> bool:
        return self._doc()["status"] == "Stopping"

    # -- stages -------------------------------------------------------------------------------
    def _run(self) -> None:
        started = self._doc()["startTime"]
        for index in range(self.first_stage, len(self.declaration.stages)):
            stage = self.declaration.stages[index]
            outcome = self.locks.enter(self.declaration.name, stage.name, self.execution_id,
                                       started, self.declaration.execution_mode, self._stopping)
            if outcome == "superseded":
                self._finish("Superseded", "A newer execution superseded this one before "
                             f"stage {stage.name}")
                return
            if outcome == "given up":
                self._finish("Stopped")
                return
            try:
                result = self._run_stage(stage, self.retry_mode if index == self.first_stage
                                         else None)
            finally:
                self.locks.leave(self.declaration.name, stage.name, self.execution_id)
            if result != "Succeeded":
                self._finish(result)
                return
        self._finish("Succeeded")

    def _run_stage(self, stage: Stage, retry_mode: str | None) -> str:
        self._update(lambda doc: doc["stages"].__setitem__(stage.name, {"status": "InProgress"}))
        succeeded = {a["actionName"] for a in self._doc()["actions"]
                     if a["stageName"] == stage.name and a["status"] == "Succeeded"}
        for group in stage.run_groups():
            todo = [a for a in group
                    if not (retry_mode == "FAILED_ACTIONS" and a.name in succeeded)]
            if self._stopping():
                return self._end_stage(stage, "Stopped")
            threads = [threading.Thread(target=self._run_action, args=(a,), daemon=True,
                                        name=f"{self.execution_id} {a.label}") for a in todo]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            statuses = {a["actionName"]: a["status"] for a in self._doc()["actions"]
                        if a["stageName"] == stage.name}
            if any(statuses.get(a.name) != "Succeeded" for a in group):
                return self._end_stage(stage, "Stopped" if self._stopping() else "Failed")
        return self._end_stage(stage, "Succeeded")

    def _end_stage(self, stage: Stage, status: str) -> str:
        self._update(lambda doc: doc["stages"][stage.name].update(status=status))
        return status

    def _finish(self, status: str, summary: str | None = None) -> None:
        def change(doc: Doc) -> None:
            doc["status"] = status
            if summary:
                doc["statusSummary"] = summary
            for stage in doc["stages"].values():
                if stage["status"] == "InProgress":
                    stage["status"] = status if status in ("Failed", "Stopped") else "Cancelled"
        self._update(change)

    # -- actions ------------------------------------------------------------------------------
    def _run_action(self, action: Action) -> None:
        doc = self._doc()
        action_id = str(uuid.uuid4())
        now = time.time()
        inputs = {name: doc["artifacts"][name] for name in action.inputs}
        entry: Doc = {
            "pipelineExecutionId": self.execution_id, "actionExecutionId": action_id,
            "pipelineVersion": self.declaration.version, "stageName": action.stage,
            "actionName": action.name, "startTime": now, "lastUpdateTime": now,
            "status": "InProgress", "updatedBy": "sagepipe",
            "input": {"actionTypeId": action.declared["actionTypeId"],
                      "configuration": action.configuration,
                      "region": self.settings.region,
                      "inputArtifacts": [{"name": n, "s3location": loc}
                                         for n, loc in inputs.items()],
                      **({"roleArn": action.role_arn} if action.role_arn else {}),
                      **({"namespace": action.namespace} if action.namespace else {})},
            "output": {}}
        self._update(lambda d: d["actions"].append(entry))
        try:
            config = substitute(action.configuration, {
                **doc["namespaces"], "codepipeline": {"PipelineExecutionId": self.execution_id},
                "variables": {v["name"]: v["resolvedValue"] for v in doc["variables"]}})
            self._record(action_id, input={**entry["input"], "resolvedConfiguration": config})
            run = ActionRun(self.settings, self.declaration, self.execution_id, action, config,
                            inputs, doc["revisions"].get(action.name), self.cancel,
                            lambda **fields: self._record(action_id, **fields),
                            self.repositories)
            if action.provider == "Manual":
                result = manual_approval(run, lambda: self._approval(action_id))
            else:
                result = PROVIDERS[(action.category, action.provider)](run)
        except ActionFailed as failure:
            self._fail(action_id, "Failed", {"code": failure.code,
                                             "message": str(failure)[:5000]})
            return
        except Abandoned:
            self._fail(action_id, "Abandoned")
            return
        except Exception as exc:  # a bug of ours: this action fails, the trace in the log
            log.exception("action %s of execution %s failed on an internal error",
                          action.label, self.execution_id)
            self._fail(action_id, "Failed", {
                "code": "InternalError", "message": f"{type(exc).__name__}: {exc} (the "
                "traceback is in the gateway log: `sagepipe logs gateway`)"})
            return
        self._succeed(action, action_id, result)

    def _fail(self, action_id: str, status: str, error: dict[str, str] | None = None) -> None:
        def change(doc: Doc) -> None:
            entry = _entry(doc, action_id)
            if error:
                entry["errorDetails"] = error
            entry.update(status=status, lastUpdateTime=time.time(),
                         output={"executionResult": execution_result(entry)})
        self._update(change)

    def _succeed(self, action: Action, action_id: str, result: ActionResult) -> None:
        def change(doc: Doc) -> None:
            doc["artifacts"].update(result.outputs)
            if action.namespace:
                doc["namespaces"][action.namespace] = result.variables
            entry = _entry(doc, action_id)
            entry.update(status="Succeeded", lastUpdateTime=time.time(), summary=result.summary)
            entry.update(output={"outputArtifacts": [{"name": n, "s3location": loc}
                                                     for n, loc in result.outputs.items()],
                                 "executionResult": execution_result(entry),
                                 "outputVariables": result.variables})
            if action.category == "Source":
                revision = {"actionName": action.name, "revisionId": result.variables["CommitId"],
                            "revisionSummary": result.summary or "",
                            "revisionUrl": ""}
                doc["sourceRevisions"] = [r for r in doc["sourceRevisions"]
                                          if r["actionName"] != action.name] + [revision]
                doc["artifactRevisions"].append({
                    "name": action.outputs[0], "revisionId": revision["revisionId"],
                    "revisionSummary": revision["revisionSummary"], "created": time.time()})
        self._update(change)

    def _record(self, action_id: str, **fields: Any) -> None:
        def change(doc: Doc) -> None:
            _entry(doc, action_id).update(fields, lastUpdateTime=time.time())
        self._update(change)

    def _approval(self, action_id: str) -> dict[str, Any] | None:
        return _entry(self._doc(), action_id).get("approval")


def _entry(doc: Doc, action_id: str) -> Doc:
    return next(a for a in doc["actions"] if a["actionExecutionId"] == action_id)


def execution_result(entry: Doc) -> Doc:
    """ListActionExecutions' executionResult from what the action recorded."""
    return {key: entry[name] for key, name in (
        ("externalExecutionId", "externalExecutionId"),
        ("externalExecutionUrl", "externalExecutionUrl"),
        ("externalExecutionSummary", "summary"), ("errorDetails", "errorDetails"))
        if entry.get(name)}
