"""The local Step Functions: state machines and their executions, run by the ASL engine
(`asl/`) with the service integrations (`integrations.py`) against this local AWS.

Each method takes an operation's input members and returns its output members (botocore's
names); state lives in the store (`records.py`), executions under way in `runs.py`.
Definitions are checked when they are created or updated, as AWS checks them, including the
Task resources this local AWS cannot run; executions run in the background (StartExecution)
or in the calling request (StartSyncExecution, EXPRESS only).
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sagepipe.config import Settings
from sagepipe.errors import NotEmulated
from sagepipe.stepfunctions import arns
from sagepipe.stepfunctions.arns import EXECUTION, STATE_MACHINE
from sagepipe.stepfunctions.asl import (
    DefinitionError,
    ExecutionInfo,
    StateMachine,
    TaskRunner,
    parse_definition,
    token_execution_arn,
    validate_definition,
)
from sagepipe.stepfunctions.asl.payload import MAX_PAYLOAD_BYTES
from sagepipe.stepfunctions.exceptions import (
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    InvalidArn,
    InvalidDefinition,
    InvalidExecutionInput,
    InvalidOutput,
    InvalidToken,
    MissingRequiredParameter,
    ResourceNotFound,
    StateMachineAlreadyExists,
    StateMachineDeleting,
    StateMachineDoesNotExist,
    StateMachineTypeNotSupported,
    TaskDoesNotExist,
    TooManyTags,
)
from sagepipe.stepfunctions.integrations import unsupported_reason
from sagepipe.stepfunctions.paging import offset, page, page_size
from sagepipe.stepfunctions.records import Doc, Records
from sagepipe.stepfunctions.runs import (
    Runs,
    ended_members,
    event_without_payloads,
    without_payloads,
)
from sagepipe.store import Store

Params = dict[str, Any]
MAX_TAGS = 50
LOGGING_OFF = {"level": "OFF", "includeExecutionData": False}
# What makes two CreateStateMachine calls "the same" (AWS answers the second idempotently).
SAME_MACHINE = ("definition", "roleArn", "type", "loggingConfiguration", "tracingConfiguration")
_ROLE = ("arn:aws", ":iam::", ":role/")
_EXPRESS_ONLY_PATTERNS = (".sync", ".sync:2", ".waitForTaskToken")


def resource_check(machine_type: str) -> Callable[[str], str | None]:
    """What a Task Resource may be in a state machine of this type: EXPRESS state machines
    have no `.sync` or `.waitForTaskToken` integrations (AWS refuses them at create)."""
    def check(resource: str) -> str | None:
        if machine_type == "EXPRESS" and resource.endswith(_EXPRESS_ONLY_PATTERNS):
            pattern = "." + resource.rsplit(".", 1)[1]
            return f"Express state machine does not support '{pattern}' service integration"
        return unsupported_reason(resource)
    return check


def _now() -> datetime:
    return datetime.now(UTC)


class StepFunctions:
    def __init__(self, store: Store, settings: Settings, runner: TaskRunner) -> None:
        self.region = settings.region
        self.records = Records(store)
        self.runs = Runs(self.records, runner, settings)
        self._compiled: dict[str, StateMachine] = {}  # revisionId -> the compiled machine
        self._lock = threading.Lock()  # check-then-write of names (machines, executions)

    def start(self) -> None:
        """After a restart: close the executions left RUNNING, finish pending deletions."""
        self.runs.settle()
        for doc in self.records.machines():
            if doc["status"] == "DELETING":
                self.records.delete_machine(doc["stateMachineArn"])

    def shutdown(self) -> None:
        self.runs.shutdown()

    # -- state machines ----------------------------------------------------------------------

    def create_state_machine(self, params: Params) -> Params:
        name = arns.check_name(params["name"])
        if params.get("publish"):
            raise NotEmulated("State machine versions are not emulated locally: create it "
                              "without publish=true")
        machine_type = params.get("type", "STANDARD")
        role = _role(params["roleArn"])
        tags = _tags(params.get("tags", []))
        self._compile(params["definition"], machine_type)
        arn = arns.state_machine_arn(name, self.region)
        created = _now().timestamp()
        doc = {"stateMachineArn": arn, "name": name, "status": "ACTIVE",
               "definition": params["definition"], "roleArn": role, "type": machine_type,
               "creationDate": created,
               "loggingConfiguration": params.get("loggingConfiguration", LOGGING_OFF),
               "tracingConfiguration": params.get("tracingConfiguration", {"enabled": False}),
               "revisionId": uuid.uuid4().hex}
        with self._lock:
            existing = self.records.machine(arn)
            if existing is not None:
                if existing["status"] == "DELETING":
                    raise StateMachineDeleting(f"State machine is being deleted: '{arn}'")
                if any(existing.get(k) != doc.get(k) for k in SAME_MACHINE):
                    raise StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
                return {"stateMachineArn": arn, "creationDate": existing["creationDate"]}
            self.records.add_machine(doc, _revision(doc, created), tags)
        return {"stateMachineArn": arn, "creationDate": created}

    def update_state_machine(self, params: Params) -> Params:
        arn = params["stateMachineArn"]
        changes: Params = {k: params[k] for k in ("definition", "roleArn", "loggingConfiguration",
                                          "tracingConfiguration") if k in params}
        if not changes:
            raise MissingRequiredParameter("Either the definition, the role ARN, the "
                                           "LoggingConfiguration, or the TracingConfiguration "
                                           "must be specified")
        if params.get("publish"):
            raise NotEmulated("State machine versions are not emulated locally: update it "
                              "without publish=true")
        current = self._machine(arn)
        if "roleArn" in changes:
            _role(changes["roleArn"])
        if "definition" in changes:
            self._compile(changes["definition"], current["type"])
        updated, revision_id = _now().timestamp(), uuid.uuid4().hex

        def change(doc: Doc) -> None:
            doc.update(changes, revisionId=revision_id)
        doc = self.records.update_machine(arn, change, _revision(
            {**current, **changes, "revisionId": revision_id}, updated))
        if doc is None:
            raise _machine_missing(arn)
        return {"updateDate": updated, "revisionId": revision_id}

    def describe_state_machine(self, params: Params) -> Params:
        doc = self._machine(params["stateMachineArn"], deleting=True)
        return _without_definition(doc) if params.get("includedData") == "METADATA_ONLY" \
            else doc

    def list_state_machines(self, params: Params) -> Params:
        items = [{k: d[k] for k in ("stateMachineArn", "name", "type", "creationDate")}
                 for d in self.records.machines()]
        return page(items, params, "stateMachines")

    def delete_state_machine(self, params: Params) -> Params:
        """AWS deletes asynchronously: the machine is DELETING while executions still run
        (each is stopped here), and gone once they have ended. Deleting a state machine
        that does not exist succeeds."""
        arn = params["stateMachineArn"]
        arns.parse(arn, STATE_MACHINE)
        with self._lock:
            doc = self.records.update_machine(arn, lambda d: d.update(status="DELETING"))
        if doc is None:
            return {}
        for execution in self.runs.of_machine(arn):
            execution.stop("States.Runtime", f"State machine {doc['name']} has been deleted.")
        if not self.runs.of_machine(arn):
            self.records.delete_machine(arn)
        return {}

    def validate_state_machine_definition(self, params: Params) -> Params:
        diagnostics, machine = validate_definition(
            params["definition"], resource_check(params.get("type", "STANDARD")))
        if params.get("severity", "ERROR") == "ERROR":
            diagnostics = [d for d in diagnostics if d.severity == "ERROR"]
        limit = params.get("maxResults") or 100
        return {"result": "OK" if machine else "FAIL",
                "diagnostics": [d.as_api() for d in diagnostics[:limit]],
                "truncated": len(diagnostics) > limit}

    # -- executions --------------------------------------------------------------------------

    def start_execution(self, params: Params) -> Params:
        machine = self._machine(params["stateMachineArn"])
        name = arns.check_name(params.get("name") or str(uuid.uuid4()))
        text, execution_input = _execution_input(params.get("input"))
        if machine["type"] == "EXPRESS":
            info = self._info(machine, name, uuid.uuid4().hex)
            self.runs.execution(self._compiled_revision(machine), execution_input, info,
                                recorded=False, log_data=_log_data(machine)).start()
            return {"executionArn": info.execution_arn, "startDate": info.start_time}
        info = self._info(machine, name)
        with self._lock:
            found = self.records.execution(info.execution_arn)
            if found is not None:
                doc, _ = found
                if doc["status"] == "RUNNING" and doc.get("input") == text:
                    return {"executionArn": doc["executionArn"], "startDate": doc["startDate"]}
                raise ExecutionAlreadyExists(f"Execution Already Exists: "
                                             f"'{info.execution_arn}'")
            doc = {"executionArn": info.execution_arn,
                   "stateMachineArn": machine["stateMachineArn"], "name": name,
                   "status": "RUNNING", "startDate": info.start_time.timestamp(), "input": text,
                   "inputDetails": {"included": True}, "redriveCount": 0}
            self.records.add_execution(doc, machine["revisionId"])
            execution = self.runs.execution(self._compiled_revision(machine), execution_input,
                                            info, recorded=True,
                                            on_end=lambda _: self._after_execution(machine),
                                            log_data=_log_data(machine))
        execution.start()
        return {"executionArn": info.execution_arn, "startDate": doc["startDate"]}

    def start_sync_execution(self, params: Params) -> Params:
        machine = self._machine(params["stateMachineArn"])
        if machine["type"] != "EXPRESS":
            raise StateMachineTypeNotSupported("This operation is not supported by this type "
                                               "of state machine (STANDARD): StartSyncExecution "
                                               "runs EXPRESS state machines")
        name = arns.check_name(params.get("name") or str(uuid.uuid4()))
        text, execution_input = _execution_input(params.get("input"))
        info = self._info(machine, name, uuid.uuid4().hex)
        outcome = self.runs.execution(self._compiled_revision(machine), execution_input, info,
                                      recorded=False, log_data=_log_data(machine)).run()
        stopped = _now().timestamp()
        started = info.start_time.timestamp()
        answer = {"executionArn": info.execution_arn, "stateMachineArn":
                  machine["stateMachineArn"], "name": name, "startDate": started,
                  "input": text, "inputDetails": {"included": True},
                  **ended_members(outcome, stopped),
                  "billingDetails": {"billedMemoryUsedInMB": 64,
                                     "billedDurationInMilliseconds": max(100, 100 * math.ceil(
                                         (stopped - started) * 10))}}
        return without_payloads(answer) if params.get("includedData") == "METADATA_ONLY" \
            else answer

    def describe_execution(self, params: Params) -> Params:
        doc, _ = self._execution(params["executionArn"])
        return without_payloads(doc) if params.get("includedData") == "METADATA_ONLY" \
            else doc

    def describe_state_machine_for_execution(self, params: Params) -> Params:
        _, revision = self._execution(params["executionArn"])
        doc = self.records.revision(revision)
        return _without_definition(doc) if params.get("includedData") == "METADATA_ONLY" \
            else doc

    def list_executions(self, params: Params) -> Params:
        if params.get("mapRunArn"):
            raise NotEmulated("Distributed Map runs are not emulated locally (their "
                              "iterations run inline): list the parent execution")
        machine = self._machine(params.get("stateMachineArn", ""), deleting=True)
        if machine["type"] == "EXPRESS":
            raise StateMachineTypeNotSupported("This operation is not supported by this type "
                                               "of state machine (EXPRESS)")
        fields = ("executionArn", "stateMachineArn", "name", "status", "startDate",
                  "stopDate", "redriveCount")
        items = [{k: d[k] for k in fields if k in d}
                 for d in self.records.executions(machine["stateMachineArn"],
                                                  params.get("statusFilter"))]
        return page(items, params, "executions")

    def get_execution_history(self, params: Params) -> Params:
        arn = params["executionArn"]
        self._execution(arn)
        limit, start = page_size(params), offset(params.get("nextToken"))
        events = self.records.events(arn, start, limit + 1, params.get("reverseOrder", False))
        if not params.get("includeExecutionData", True):
            events = [event_without_payloads(e) for e in events]
        answer: Params = {"events": events[:limit]}
        if len(events) > limit:
            answer["nextToken"] = str(start + limit)
        return answer

    def stop_execution(self, params: Params) -> Params:
        """Abort a running execution (its running jobs are stopped with it) and answer once
        its end is recorded; a closed execution is left as it is."""
        arn = params["executionArn"]
        doc, _ = self._execution(arn)
        if doc["status"] == "RUNNING" and not self.runs.stop(arn, params.get("error"),
                                                               params.get("cause")):
            self.records.finish_execution(arn, {"status": "ABORTED",
                                                "stopDate": _now().timestamp()})
        doc, _ = self._execution(arn)
        return {"stopDate": doc.get("stopDate", _now().timestamp())}

    # -- task tokens -------------------------------------------------------------------------

    def send_task_success(self, params: Params) -> Params:
        try:
            output = json.loads(params["output"])
        except (ValueError, TypeError) as error:
            raise InvalidOutput(f"Invalid Output: '{error}'") from None
        execution, token = self._token(params["taskToken"])
        if not execution.send_task_success(token, output):
            raise TaskDoesNotExist("Task Does Not Exist: the task of this token has ended")
        return {}

    def send_task_failure(self, params: Params) -> Params:
        execution, token = self._token(params["taskToken"])
        if not execution.send_task_failure(token, params.get("error", ""),
                                           params.get("cause", "")):
            raise TaskDoesNotExist("Task Does Not Exist: the task of this token has ended")
        return {}

    def send_task_heartbeat(self, params: Params) -> Params:
        execution, token = self._token(params["taskToken"])
        if not execution.send_task_heartbeat(token):
            raise TaskDoesNotExist("Task Does Not Exist: the task of this token has ended")
        return {}

    # -- tags --------------------------------------------------------------------------------

    def tag_resource(self, params: Params) -> Params:
        arn = self._taggable(params["resourceArn"])
        tags = {**self.records.tags(arn), **_tags(params["tags"])}
        if len(tags) > MAX_TAGS:
            raise TooManyTags(f"Too many tags: a resource has at most {MAX_TAGS}",
                              resourceName=arn)
        self.records.set_tags(arn, tags)
        return {}

    def untag_resource(self, params: Params) -> Params:
        self.records.remove_tags(self._taggable(params["resourceArn"]), params["tagKeys"])
        return {}

    def list_tags_for_resource(self, params: Params) -> Params:
        arn = self._taggable(params["resourceArn"])
        return {"tags": [{"key": k, "value": v} for k, v in self.records.tags(arn).items()]}

    # -- lookups -----------------------------------------------------------------------------

    def _machine(self, arn: str, deleting: bool = False) -> Doc:
        arns.parse(arn, STATE_MACHINE)
        doc = self.records.machine(arn)
        if doc is None:
            raise _machine_missing(arn)
        if doc["status"] == "DELETING" and not deleting:
            raise StateMachineDeleting(f"State machine is being deleted: '{arn}'")
        return doc

    def _execution(self, arn: str) -> tuple[Doc, str]:
        arns.parse(arn, EXECUTION)
        found = self.records.execution(arn)
        if found is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return found

    def _taggable(self, arn: str) -> str:
        arns.parse(arn, STATE_MACHINE, "activity")
        if self.records.machine(arn) is None:
            raise ResourceNotFound(f"Resource not found: '{arn}'", resourceName=arn)
        return arn

    def _token(self, token: str) -> tuple[Any, str]:
        arn = token_execution_arn(token)
        if arn is None:
            raise InvalidToken("Invalid Token: 'this is not a task token the local Step "
                               "Functions issued'")
        execution = self.runs.get(arn)
        if execution is None:
            raise TaskDoesNotExist("Task Does Not Exist: its execution has ended")
        return execution, token

    def _compile(self, definition: str, machine_type: str) -> StateMachine:
        try:
            return parse_definition(definition, resource_check(machine_type))
        except DefinitionError as error:
            raise InvalidDefinition(str(error)) from None

    def _compiled_revision(self, machine: Doc) -> StateMachine:
        revision = machine["revisionId"]
        if revision not in self._compiled:
            self._compiled[revision] = self._compile(machine["definition"], machine["type"])
        return self._compiled[revision]

    def _info(self, machine: Doc, name: str, express_id: str | None = None) -> ExecutionInfo:
        return ExecutionInfo(
            arns.execution_arn(machine["name"], name, self.region, express_id), name,
            machine["stateMachineArn"], machine["name"], machine["roleArn"], _now(),
            self.region)

    def _after_execution(self, machine: Doc) -> None:
        """The last execution of a DELETING state machine has ended: it goes."""
        arn = machine["stateMachineArn"]
        current = self.records.machine(arn)
        if current and current["status"] == "DELETING" and not [
                e for e in self.runs.of_machine(arn) if e.running]:
            self.records.delete_machine(arn)


def _machine_missing(arn: str) -> StateMachineDoesNotExist:
    return StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")


def _role(role_arn: str) -> str:
    if not (role_arn.startswith(_ROLE[0]) and _ROLE[1] in role_arn and _ROLE[2] in role_arn):
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: "
                         f"{role_arn}' (roleArn must be an IAM role ARN)")
    return role_arn


def _tags(tags: list[dict[str, str]]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise TooManyTags(f"Too many tags: a resource has at most {MAX_TAGS}")
    return {tag["key"]: tag.get("value", "") for tag in tags}


def _revision(doc: Doc, updated: float) -> Doc:
    """DescribeStateMachineForExecution's document of a state machine as it is now."""
    keys = ("stateMachineArn", "name", "definition", "roleArn", "loggingConfiguration",
            "tracingConfiguration", "revisionId")
    return {**{k: doc[k] for k in keys}, "updateDate": updated}


def _execution_input(text: str | None) -> tuple[str, Any]:
    text = "{}" if text is None else text
    size = len(text.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: the input has "
                                    f"{size} bytes; Step Functions accepts at most "
                                    f"{MAX_PAYLOAD_BYTES} (256 KB)")
    try:
        return text, json.loads(text)
    except ValueError as error:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{error}'") \
            from None


def _without_definition(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k != "definition"}


def _log_data(machine: Doc) -> bool:
    """Whether the state machine's executions log their input and output."""
    return bool(machine["loggingConfiguration"].get("includeExecutionData"))
