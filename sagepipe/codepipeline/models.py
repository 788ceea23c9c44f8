"""The local CodePipeline's API: pipelines (each version kept), executions started by
StartPipelineExecution, by the pipeline's creation, or by a push to the local Git remote of its
source (a V2 trigger's filters, or the source branch), and the calls that follow, stop, retry and
approve them. Executions run in threads of the local AWS (executions.py); a restart of the local
AWS ends the ones it interrupted, Failed (or Stopped, if they were stopping), saying why."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from sagepipe.codepipeline.declaration import SOURCE, Declaration, validate
from sagepipe.codepipeline.exceptions import (
    ActionNotFoundException,
    ApprovalAlreadyCompletedException,
    DuplicatedStopRequestException,
    InvalidActionDeclarationException,
    InvalidApprovalTokenException,
    InvalidNextTokenException,
    NotLatestPipelineExecutionException,
    PipelineExecutionNotStoppableException,
    PipelineVersionNotFoundException,
    StageNotFoundException,
    StageNotRetryableException,
    ValidationException,
)
from sagepipe.codepipeline.executions import ExecutionRun, StageLocks, execution_result
from sagepipe.codepipeline.git import ZERO, GitError, Push, Repositories, push_matches
from sagepipe.codepipeline.state import ACTIVE, Doc, Executions, Pipelines
from sagepipe.config import Settings, arn
from sagepipe.internal import SerializationException
from sagepipe.store import Store

Params = dict[str, Any]
RESTART_REASON = ("The local AWS stopped while this execution ran, so it did not finish: start "
                  "it again (StartPipelineExecution, or a push)")
SHUTDOWN_REASON = "The local AWS is shutting down"
PRIVATE = ("token", "approval", "summary", "externalExecutionId", "externalExecutionUrl",
           "errorDetails")  # kept in an action execution for GetPipelineState only


class CodePipeline:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.settings = settings
        self.pipelines = Pipelines(store)
        self.executions = Executions(store)
        self.repositories = Repositories(settings)
        self.locks = StageLocks()
        self._runs: dict[str, ExecutionRun] = {}
        self._lock = threading.Lock()

    # -- gateway life cycle ------------------------------------------------------------------
    def start(self) -> None:
        """Executions a previous gateway left running ended with it."""
        for doc in self.executions.active():
            self.executions.update(doc["pipelineExecutionId"],
                                   lambda d: _settle(d, RESTART_REASON))

    def shutdown(self) -> None:
        """Abandon the running executions (their builds stop), then settle what is left."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            self.executions.update(run.execution_id, lambda d: _request_stop(
                d, SHUTDOWN_REASON))
            run.cancel.set()
        for run in runs:
            run.join(10)
        self.start()

    # -- pipelines ---------------------------------------------------------------------------
    def create_pipeline(self, params: Params) -> Params:
        pipeline = {**params["pipeline"], "version": 1}
        declaration = validate(pipeline)
        self._prepare_sources(declaration)
        now = time.time()
        self.pipelines.create(pipeline["name"], {
            "versions": [pipeline], "tags": params.get("tags") or [],
            "metadata": {"pipelineArn": arn("codepipeline", pipeline["name"],
                                            self.settings.region),
                         "created": now, "updated": now}})
        revisions = self._branch_heads(declaration)
        if all(revisions.values()):  # an empty remote waits for its first push
            self._start(declaration, {"triggerType": "CreatePipeline",
                                      "triggerDetail": self._arn(declaration.name)}, revisions)
        return {"pipeline": pipeline, "tags": params.get("tags") or []}

    def update_pipeline(self, params: Params) -> Params:
        name = params["pipeline"]["name"]
        version = len(self.pipelines.get(name)["versions"]) + 1
        pipeline = {**params["pipeline"], "version": version}
        self._prepare_sources(validate(pipeline))

        def change(doc: Doc) -> None:
            doc["versions"].append(pipeline)
            doc["metadata"]["updated"] = time.time()
        self.pipelines.update(name, change)
        return {"pipeline": pipeline}

    def delete_pipeline(self, params: Params) -> Params:
        """Its running executions are abandoned; deleting a missing pipeline succeeds."""
        name = params["name"]
        for doc in self.executions.of_pipeline(name):
            if doc["status"] in ACTIVE:
                self._stop(doc, abandon=True, reason="The pipeline was deleted")
                with self._lock:
                    run = self._runs.get(doc["pipelineExecutionId"])
                if run is not None:
                    run.join(10)
        if self.pipelines.docs.find("pipeline", name) is not None:
            self.pipelines.delete(name)
        self.executions.delete_pipeline(name)
        return {}

    def get_pipeline(self, params: Params) -> Params:
        doc = self.pipelines.get(params["name"])
        version = params.get("version") or len(doc["versions"])
        if not 1 <= version <= len(doc["versions"]):
            raise PipelineVersionNotFoundException(
                f"Pipeline {params['name']} has no version {version}")
        return {"pipeline": doc["versions"][version - 1], "metadata": doc["metadata"]}

    def list_pipelines(self, params: Params) -> Params:
        summaries = sorted(({"name": d["versions"][-1]["name"],
                             "version": len(d["versions"]),
                             "pipelineType": d["versions"][-1].get("pipelineType", "V1"),
                             "executionMode": d["versions"][-1].get("executionMode",
                                                                    "SUPERSEDED"),
                             "created": d["metadata"]["created"],
                             "updated": d["metadata"]["updated"]}
                            for d in self.pipelines.all()), key=lambda s: s["name"])
        return _page(summaries, params, "pipelines")

    def _declaration(self, name: str) -> Declaration:
        return Declaration.of(self.pipelines.get(name)["versions"][-1])

    def _arn(self, name: str) -> str:
        return arn("codepipeline", name, self.settings.region)

    def _prepare_sources(self, declaration: Declaration) -> None:
        """The local Git remote of each source's repository (an empty bare repository until
        someone pushes to it)."""
        for action in declaration.source_actions():
            try:
                self.repositories.ensure(action.configuration["FullRepositoryId"])
            except GitError as exc:
                raise InvalidActionDeclarationException(f"Action {action.label}: {exc}") \
                    from None

    def _branch_heads(self, declaration: Declaration) -> dict[str, str | None]:
        return {a.name: self.repositories.branch_head(a.configuration["FullRepositoryId"],
                                                      a.configuration["BranchName"])
                for a in declaration.source_actions()}

    # -- executions --------------------------------------------------------------------------
    def start_pipeline_execution(self, params: Params) -> Params:
        declaration = self._declaration(params["name"])
        token = params.get("clientRequestToken")
        if token:
            for doc in self.executions.of_pipeline(declaration.name):
                if doc.get("clientRequestToken") == token:
                    return {"pipelineExecutionId": doc["pipelineExecutionId"]}
        revisions = self._branch_heads(declaration)
        sources = {a.name for a in declaration.source_actions()}
        for override in params.get("sourceRevisions") or []:
            if override["actionName"] not in sources:
                raise ValidationException(f"sourceRevisions: {override['actionName']} is not a "
                                          "source action of the pipeline")
            if override["revisionType"] != "COMMIT_ID":
                raise ValidationException(f"sourceRevisions: a {SOURCE} source takes a "
                                          "COMMIT_ID revision")
            revisions[override["actionName"]] = override["revisionValue"]
        variables = _variables(declaration, params.get("variables") or [])
        execution_id = self._start(
            declaration, {"triggerType": "StartPipelineExecution",
                          "triggerDetail": "sagepipe"}, revisions, variables, token)
        return {"pipelineExecutionId": execution_id}

    def _start(self, declaration: Declaration, trigger: Params,
               revisions: dict[str, str | None], variables: list[Params] | None = None,
               token: str | None = None) -> str:
        execution_id = str(uuid.uuid4())
        now = time.time()
        doc: Doc = {
            "pipelineName": declaration.name, "pipelineVersion": declaration.version,
            "pipelineExecutionId": execution_id, "status": "InProgress", "startTime": now,
            "lastUpdateTime": now, "trigger": trigger,
            "executionMode": declaration.execution_mode, "executionType": "STANDARD",
            "sourceRevisions": self._source_revisions(declaration, revisions),
            "artifactRevisions": [],
            "variables": variables if variables is not None else _variables(declaration, []),
            "revisions": revisions, "stages": {}, "actions": [], "namespaces": {},
            "artifacts": {}}
        if token:
            doc["clientRequestToken"] = token
        self.executions.create(doc)
        self._run(declaration, execution_id)
        return execution_id

    def _source_revisions(self, declaration: Declaration,
                          revisions: dict[str, str | None]) -> list[Params]:
        found = []
        for action in declaration.source_actions():
            commit = revisions.get(action.name)
            if not commit:
                continue
            try:
                summary = self.repositories.commit(action.configuration["FullRepositoryId"],
                                                   commit).summary
            except GitError:
                summary = ""  # an unknown commit: the source action fails with git's reason
            found.append({"actionName": action.name, "revisionId": commit,
                          "revisionSummary": summary, "revisionUrl": ""})
        return found

    def _run(self, declaration: Declaration, execution_id: str, first_stage: int = 0,
             retry_mode: str | None = None) -> None:
        run = ExecutionRun(self.executions, self.locks, self.settings, self.repositories,
                           declaration, execution_id, first_stage, retry_mode, self._forget)
        with self._lock:
            self._runs[execution_id] = run
        run.start()

    def _forget(self, run: ExecutionRun) -> None:
        with self._lock:
            if self._runs.get(run.execution_id) is run:
                del self._runs[run.execution_id]

    def stop_pipeline_execution(self, params: Params) -> Params:
        self.pipelines.get(params["pipelineName"])
        doc = self.executions.get(params["pipelineName"], params["pipelineExecutionId"])
        abandon = bool(params.get("abandon"))
        if doc["status"] == "Stopping" and (not abandon or doc.get("abandoned")):
            raise DuplicatedStopRequestException(
                f"Execution {doc['pipelineExecutionId']} is already being stopped")
        if doc["status"] not in ACTIVE:
            raise PipelineExecutionNotStoppableException(
                f"Unable to stop pipeline execution {doc['pipelineExecutionId']}: it is "
                f"{doc['status']}")
        self._stop(doc, abandon, params.get("reason") or "")
        return {"pipelineExecutionId": doc["pipelineExecutionId"]}

    def _stop(self, doc: Doc, abandon: bool, reason: str) -> None:
        def change(d: Doc) -> None:
            _request_stop(d, reason)
            d["abandoned"] = d.get("abandoned") or abandon
        self.executions.update(doc["pipelineExecutionId"], change)
        with self._lock:
            run = self._runs.get(doc["pipelineExecutionId"])
        if abandon and run is not None:
            run.cancel.set()

    def get_pipeline_execution(self, params: Params) -> Params:
        self.pipelines.get(params["pipelineName"])
        doc = self.executions.get(params["pipelineName"], params["pipelineExecutionId"])
        return {"pipelineExecution": _fields(doc, (
            "pipelineName", "pipelineVersion", "pipelineExecutionId", "status",
            "statusSummary", "artifactRevisions", "variables", "trigger", "executionMode",
            "executionType"))}

    def list_pipeline_executions(self, params: Params) -> Params:
        self.pipelines.get(params["pipelineName"])
        docs = self.executions.of_pipeline(params["pipelineName"])
        stage = ((params.get("filter") or {}).get("succeededInStage") or {}).get("stageName")
        if stage:
            docs = [d for d in docs if d["stages"].get(stage, {}).get("status") == "Succeeded"]
        summaries = [_fields(d, ("pipelineExecutionId", "status", "statusSummary", "startTime",
                                 "lastUpdateTime", "sourceRevisions", "trigger", "stopTrigger",
                                 "executionMode", "executionType")) for d in docs]
        return _page(summaries, params, "pipelineExecutionSummaries")

    def list_action_executions(self, params: Params) -> Params:
        name = params["pipelineName"]
        self.pipelines.get(name)
        wanted = (params.get("filter") or {}).get("pipelineExecutionId")
        docs = [self.executions.get(name, wanted)] if wanted else \
            self.executions.of_pipeline(name)
        details = sorted(({k: v for k, v in a.items() if k not in PRIVATE}
                          for d in docs for a in d["actions"]),
                         key=lambda a: a["startTime"], reverse=True)
        return _page(details, params, "actionExecutionDetails")

    def get_pipeline_state(self, params: Params) -> Params:
        doc = self.pipelines.get(params["name"])
        declaration = Declaration.of(doc["versions"][-1])
        executions = self.executions.of_pipeline(declaration.name)
        stages = []
        for stage in declaration.stages:
            state: Params = {"stageName": stage.name, "inboundTransitionState": {"enabled": True},
                             "actionStates": []}
            latest = next((e for e in executions if stage.name in e["stages"]), None)
            if latest is not None:
                status = latest["stages"][stage.name]["status"]
                state["latestExecution"] = {
                    "pipelineExecutionId": latest["pipelineExecutionId"],
                    "status": "Stopping" if status == "InProgress" and
                    latest["status"] == "Stopping" else status}
            for action in stage.actions:
                state["actionStates"].append(_action_state(stage.name, action.name,
                                                           executions))
            stages.append(state)
        return {"pipelineName": declaration.name, "pipelineVersion": declaration.version,
                "stageStates": stages, "created": doc["metadata"]["created"],
                "updated": doc["metadata"]["updated"]}

    def retry_stage_execution(self, params: Params) -> Params:
        name, stage_name = params["pipelineName"], params["stageName"]
        declaration = self._declaration(name)
        if declaration.stage(stage_name) is None:
            raise StageNotFoundException(f"Stage {stage_name} not found in pipeline {name}")
        doc = self.executions.get(name, params["pipelineExecutionId"])
        latest = next((e for e in self.executions.of_pipeline(name)
                       if stage_name in e["stages"]), None)
        if latest is None or latest["pipelineExecutionId"] != doc["pipelineExecutionId"]:
            raise NotLatestPipelineExecutionException(
                f"Execution {doc['pipelineExecutionId']} is not the latest execution of stage "
                f"{stage_name}")
        if doc["status"] != "Failed" or doc["stages"][stage_name]["status"] != "Failed":
            raise StageNotRetryableException(
                f"Stage {stage_name} of execution {doc['pipelineExecutionId']} cannot be "
                f"retried: only a failed stage of a failed execution can")
        if doc["pipelineVersion"] != declaration.version:
            raise StageNotRetryableException(
                "The pipeline was updated since this execution started: start a new one")

        def retry(d: Doc) -> None:
            d.update(status="InProgress", lastUpdateTime=time.time())
            d.pop("statusSummary", None)
        self.executions.update(doc["pipelineExecutionId"], retry)
        self._run(declaration, doc["pipelineExecutionId"],
                  declaration.stage_index(stage_name), params["retryMode"])
        return {"pipelineExecutionId": doc["pipelineExecutionId"]}

    def put_approval_result(self, params: Params) -> Params:
        name, stage_name, action_name = (params["pipelineName"], params["stageName"],
                                         params["actionName"])
        stage = self._declaration(name).stage(stage_name)
        if stage is None:
            raise StageNotFoundException(f"Stage {stage_name} not found in pipeline {name}")
        if stage.action(action_name) is None:
            raise ActionNotFoundException(f"Action {action_name} not found in stage "
                                          f"{stage_name} of pipeline {name}")
        token = params["token"]
        owner = next((d for d in self.executions.of_pipeline(name) if any(
            a.get("token") == token and (a["stageName"], a["actionName"]) ==
            (stage_name, action_name) for a in d["actions"])), None)
        if owner is None:
            raise InvalidApprovalTokenException(
                f"The token {token} is not the token of an approval request of "
                f"{stage_name}.{action_name}: take it from GetPipelineState")
        now = time.time()

        def answer(doc: Doc) -> None:  # checked in the transaction: one answer wins
            entry = next(a for a in doc["actions"] if a.get("token") == token)
            if entry["status"] != "InProgress" or entry.get("approval"):
                raise ApprovalAlreadyCompletedException(
                    f"The approval request {token} was already answered or has ended")
            entry["approval"] = {**params["result"], "approvedAt": now}
        self.executions.update(owner["pipelineExecutionId"], answer)
        return {"approvedAt": now}

    # -- the local Git remotes (internal routes) -----------------------------------------------
    def git_pushes(self, params: Params) -> Params:
        """What a push to a local remote updated (its post-receive hook): start every pipeline
        whose trigger matches."""
        body = params["body"]
        repository, updates = body.get("repository"), body.get("updates")
        if not isinstance(repository, str) or not isinstance(updates, list) or not all(
                isinstance(u, dict) and {"ref", "old", "new"} <= set(u) for u in updates):
            raise SerializationException('body must be {"repository": "owner/name", "updates": '
                                         '[{"ref": ..., "old": ..., "new": ...}]}')
        pushes = [Push(u["ref"], u["old"], u["new"]) for u in updates if u["new"] != ZERO]
        started = []
        for doc in self.pipelines.all():
            declaration = Declaration.of(doc["versions"][-1])
            revisions, trigger = self._triggered(declaration, repository, pushes)
            if trigger is not None:
                started.append({"pipelineName": declaration.name, "pipelineExecutionId":
                                self._start(declaration, trigger, revisions)})
        return {"executions": started}

    def _triggered(self, declaration: Declaration, repository: str,
                   pushes: list[Push]) -> tuple[dict[str, str | None], Params | None]:
        """The source revisions and trigger of the execution `pushes` start (no trigger: none
        starts)."""
        if all(a.configuration["FullRepositoryId"] != repository
               for a in declaration.source_actions()):
            return {}, None
        revisions = self._branch_heads(declaration)
        trigger = None
        for action in declaration.source_actions():
            config = action.configuration
            if config["FullRepositoryId"] != repository:
                continue
            triggers = [t for t in declaration.triggers
                        if t["gitConfiguration"]["sourceActionName"] == action.name]
            for push in pushes:
                if triggers:
                    changed = self.repositories.changed_files(repository, push)
                    matched = any(push_matches(f, push, changed) for t in triggers
                                  for f in t["gitConfiguration"].get("push") or [])
                else:
                    matched = config.get("DetectChanges", "true").lower() != "false" and \
                        push.branch == config["BranchName"]
                if matched:
                    revisions[action.name] = push.new
                    trigger = {"triggerType": "WebhookV2" if triggers else "Webhook",
                               "triggerDetail": config["ConnectionArn"]}
                    break
        return revisions, trigger

    def git_repositories(self, _params: Params) -> list[dict[str, str]]:
        return self.repositories.all()


def _request_stop(doc: Doc, reason: str) -> None:
    doc.update(status="Stopping", lastUpdateTime=time.time())
    doc["stopTrigger"] = {"reason": reason}


def _settle(doc: Doc, reason: str) -> None:
    """End an execution whose thread is gone: InProgress -> Failed, Stopping -> Stopped."""
    stopping = doc["status"] == "Stopping"
    status = "Stopped" if stopping else "Failed"
    doc.update(status=status, statusSummary=reason, lastUpdateTime=time.time())
    for stage in doc["stages"].values():
        if stage["status"] == "InProgress":
            stage["status"] = status
    for action in doc["actions"]:
        if action["status"] == "InProgress":
            action.update(status="Abandoned" if stopping else "Failed",
                          lastUpdateTime=time.time())
            if not stopping:
                action["errorDetails"] = {"code": "JobFailed", "message": reason}
            action["output"] = {"executionResult": execution_result(action)}


def _variables(declaration: Declaration, given: list[Params]) -> list[Params]:
    """The execution's pipeline-level variables: defaults overridden by StartPipelineExecution."""
    declared = {v["name"]: v for v in declaration.variables}
    values = {v["name"]: v["value"] for v in given}
    unknown = set(values) - set(declared)
    if unknown:
        raise ValidationException(f"Variables {sorted(unknown)} are not declared by pipeline "
                                  f"{declaration.name}")
    missing = [n for n, v in declared.items() if n not in values and "defaultValue" not in v]
    if missing:
        raise ValidationException(f"Variables {missing} have no default value: give them")
    return [{"name": n, "resolvedValue": values.get(n, v.get("defaultValue", ""))}
            for n, v in declared.items()]


def _action_state(stage: str, action: str, executions: list[Doc]) -> Params:
    """An action's state: its latest action execution, whichever pipeline execution ran it."""
    entries = [a for e in executions for a in e["actions"]
               if (a["stageName"], a["actionName"]) == (stage, action)]
    state: Params = {"actionName": action}
    if not entries:
        return state
    latest = max(entries, key=lambda a: a["startTime"])
    state["latestExecution"] = {
        "actionExecutionId": latest["actionExecutionId"], "status": latest["status"],
        "lastStatusChange": latest["lastUpdateTime"], "lastUpdatedBy": latest["updatedBy"],
        **{k: latest[k] for k in ("summary", "externalExecutionId", "externalExecutionUrl",
                                  "errorDetails") if latest.get(k)}}
    if latest.get("token") and latest["status"] == "InProgress" and not latest.get("approval"):
        state["latestExecution"]["token"] = latest["token"]
    if latest["input"]["actionTypeId"]["category"] == "Source" and latest.get(
            "externalExecutionId"):
        state["currentRevision"] = {"revisionId": latest["externalExecutionId"]}
    return state


def _fields(doc: Doc, names: tuple[str, ...]) -> Params:
    return {k: doc[k] for k in names if doc.get(k) is not None}


def _page(items: list[Any], params: Params, key: str) -> Params:
    token = params.get("nextToken")
    if token is not None and not (token.isascii() and token.isdigit() and len(token) < 10):
        raise InvalidNextTokenException("The next token is not valid: pass the nextToken of "
                                        "the previous page")
    start, size = int(token or 0), params.get("maxResults") or 100
    answer: Params = {key: items[start:start + size]}
    if start + size < len(items):
        answer["nextToken"] = str(start + size)
    return answer
