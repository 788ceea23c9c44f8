"""Workflow and Execution: a state machine and its runs, through any boto3 `stepfunctions`
client (AWS's, or a local one: only the client's endpoint URL differs)."""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Literal, overload

import boto3

from ds_stepfunctions.exceptions import MissingRequiredParameter, WorkflowNotFound
from ds_stepfunctions.inputs.placeholders import ExecutionInput
from ds_stepfunctions.steps.states import Chain, FrozenGraph, Graph, State
from ds_stepfunctions.workflow.cloudformation import build_cloudformation_template
from ds_stepfunctions.workflow.graph import WorkflowGraph, state_statuses

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000  # the largest page Step Functions returns


def _pages(max_items: int) -> dict[str, int]:
    """A paginator's config: pages no larger than what is wanted."""
    return {"MaxItems": max_items, "PageSize": min(max_items, PAGE_SIZE)}


class ExecutionStatus(Enum):
    Running = "RUNNING"
    Succeeded = "SUCCEEDED"
    Failed = "FAILED"
    TimedOut = "TIMED_OUT"
    Aborted = "ABORTED"


class Table(list):
    """A list of API records that a notebook shows as an HTML table (`html=True`)."""

    columns: tuple[str, ...] = ()

    def to_html(self) -> str:
        head = "".join(f"<th>{c}</th>" for c in self.columns)
        rows = "".join("<tr>" + "".join(f"<td>{_cell(_get(r, c))}</td>" for c in self.columns)
                       + "</tr>" for r in self)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def __rich__(self) -> Any:
        from rich.table import Table as RichTable

        table = RichTable(*self.columns)
        for record in self:
            table.add_row(*(str(_get(record, c) or "") for c in self.columns))
        return table


class WorkflowList(Table):
    columns = ("name", "stateMachineArn", "creationDate")


class ExecutionsList(Table):
    columns = ("name", "status", "start_date", "stop_date", "execution_arn")


class EventsList(Table):
    columns = ("id", "type", "timestamp", "previousEventId")


class HTML:
    """An HTML snippet for a notebook (what `html=True` returns), no IPython needed."""

    def __init__(self, data: str) -> None:
        self.data = data

    def _repr_html_(self) -> str:
        return self.data

    def __str__(self) -> str:
        return self.data


def _get(record: Any, column: str) -> Any:
    return record.get(column) if isinstance(record, Mapping) else getattr(record, column, None)


def _cell(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _client(client: Any) -> Any:
    """The client given, or one that boto3 configures from the environment (AWS or local)."""
    return client if client is not None else boto3.client("stepfunctions")


class Workflow:
    """A state machine: its definition (a State, Chain or Graph), name and role."""

    @overload
    @classmethod
    def list_workflows(cls, max_items: int = ..., client: Any = ...,
                       html: Literal[False] = ...) -> WorkflowList: ...
    @overload
    @classmethod
    def list_workflows(cls, max_items: int = ..., client: Any = ..., *,
                       html: Literal[True]) -> HTML: ...
    @classmethod
    def list_workflows(cls, max_items: int = 100, client: Any = None,
                       html: bool = False) -> WorkflowList | HTML:
        """The account's state machines (ListStateMachines, every page up to max_items)."""
        pages = _client(client).get_paginator("list_state_machines").paginate(
            PaginationConfig=_pages(max_items))
        workflows = WorkflowList(m for page in pages for m in page["stateMachines"])
        return HTML(workflows.to_html()) if html else workflows

    @classmethod
    def attach(cls, state_machine_arn: str, client: Any = None) -> Workflow:
        """A Workflow for an existing state machine (its definition read back, frozen)."""
        client = _client(client)
        response = client.describe_state_machine(stateMachineArn=state_machine_arn)
        return cls(name=response["name"], definition=FrozenGraph.from_json(response["definition"]),
                   role=response["roleArn"], state_machine_arn=response["stateMachineArn"],
                   client=client)

    def __init__(self, name: str, definition: State | Chain | Graph, role: str,
                 tags: list[dict[str, str]] | dict[str, str] | None = None,
                 execution_input: ExecutionInput | None = None,
                 timeout_seconds: int | None = None, comment: str | None = None,
                 version: str | None = None, state_machine_arn: str | None = None,
                 format_json: bool = True, client: Any = None) -> None:
        self.name = name
        self.timeout_seconds = timeout_seconds
        self.comment = comment
        self.version = version
        self.definition = self._graph(definition)
        self.role = role
        if isinstance(tags, Mapping):
            tags = [{"key": k, "value": v} for k, v in tags.items()]
        self.tags = list(tags or [])
        self.workflow_input = execution_input
        self.format_json = format_json
        self.state_machine_arn = state_machine_arn
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 client; made on first use, so that building and drawing need no AWS."""
        self._client = _client(self._client)
        return self._client

    def _graph(self, definition: State | Chain | Graph) -> Graph:
        if isinstance(definition, Graph):
            return definition
        fields = {k: v for k, v in (("timeout_seconds", self.timeout_seconds),
                                    ("comment", self.comment), ("version", self.version))
                  if v is not None}
        return Graph(definition, **fields)

    def _definition_json(self) -> str:
        return json.dumps(self.definition.to_dict(), indent=4 if self.format_json else None)

    def create(self) -> str:
        """Create the state machine; if one by this name exists, return its ARN (unchanged:
        call update() to change it)."""
        if self.state_machine_arn is not None:
            logger.warning("The workflow already exists on AWS Step Functions. No action will "
                           "be performed.")
            return self.state_machine_arn
        try:
            response = self.client.create_state_machine(
                name=self.name, definition=self._definition_json(), roleArn=self.role,
                tags=self.tags)
            self.state_machine_arn = response["stateMachineArn"]
        except self.client.exceptions.StateMachineAlreadyExists as error:
            self.state_machine_arn = self._existing_arn(error)
            logger.warning("A workflow named %s already exists (%s): not changed. To update "
                           "it, use Workflow.update().", self.name, self.state_machine_arn)
        return self.state_machine_arn

    def _existing_arn(self, error: Any) -> str:
        """The ARN named in AWS's message ("State Machine Already Exists: 'arn:...'"), else
        found by listing the state machines."""
        found = re.search(r"arn:[\w-]+:states:[^'\"\s]+", error.response["Error"]["Message"])
        if found:
            return found.group(0)
        for machine in Workflow.list_workflows(max_items=100_000, client=self.client):
            if machine["name"] == self.name:
                return machine["stateMachineArn"]
        raise error

    def update(self, definition: State | Chain | Graph | None = None,
               role: str | None = None) -> str:
        """Change the state machine's definition and/or role (UpdateStateMachine)."""
        if definition is None and role is None:
            raise MissingRequiredParameter("A new definition and/or role must be provided to "
                                           "update an existing workflow.")
        arn = self._require_arn("update it")
        if definition is not None:
            self.definition = self._graph(definition)
        if role is not None:
            self.role = role
        self.client.update_state_machine(stateMachineArn=arn, definition=self._definition_json(),
                                         roleArn=self.role)
        return arn

    def execute(self, name: str | None = None, inputs: Any = None) -> Execution:
        """Start an execution; `inputs` is checked against the ExecutionInput schema first."""
        if self.workflow_input is not None:
            result = self.workflow_input.validate(inputs)
            if not result.valid:
                problems = [f"missing {k!r}" for k in result.keys_missing] + [
                    f"{k!r} is a {got.__name__}, expected {want.__name__}"
                    for k, want, got in result.keys_type_mismatch]
                raise ValueError(f"Execution input does not match the schema "
                                 f"{self.workflow_input.get_schema_as_json()}: "
                                 + "; ".join(problems))
        params: dict[str, Any] = {"stateMachineArn": self._require_arn("execute it")}
        if name is not None:
            params["name"] = name
        if inputs is not None:
            params["input"] = json.dumps(inputs, indent=4 if self.format_json else None)
        response = self.client.start_execution(**params)
        return Execution(workflow=self, execution_arn=response["executionArn"],
                         start_date=response["startDate"], status=ExecutionStatus.Running,
                         name=name)

    @overload
    def list_executions(self, max_items: int = ..., status_filter: ExecutionStatus | None = ...,
                        html: Literal[False] = ...) -> ExecutionsList: ...
    @overload
    def list_executions(self, max_items: int = ..., status_filter: ExecutionStatus | None = ...,
                        *, html: Literal[True]) -> HTML: ...
    def list_executions(self, max_items: int = 100,
                        status_filter: ExecutionStatus | None = None,
                        html: bool = False) -> ExecutionsList | HTML:
        """The state machine's executions, newest first (ListExecutions, every page)."""
        if self.state_machine_arn is None:
            return ExecutionsList()
        params: dict[str, Any] = {"stateMachineArn": self.state_machine_arn,
                                  "PaginationConfig": _pages(max_items)}
        if status_filter is not None:
            params["statusFilter"] = status_filter.value
        pages = self.client.get_paginator("list_executions").paginate(**params)
        runs = ExecutionsList(
            Execution(workflow=self, execution_arn=e["executionArn"], name=e["name"],
                      start_date=e["startDate"], stop_date=e.get("stopDate"),
                      status=e["status"])
            for page in pages for e in page["executions"])
        return HTML(runs.to_html()) if html else runs

    def delete(self) -> None:
        """Delete the state machine (AWS finishes once its running executions stop)."""
        if self.state_machine_arn is not None:
            self.client.delete_state_machine(stateMachineArn=self.state_machine_arn)

    def render_graph(self, portrait: bool = False) -> WorkflowGraph:
        """The graph's picture: shows itself in a notebook (SVG, no JavaScript) and a rich
        terminal; `.to_mermaid()`, `.to_svg()`, `.to_png()`, `.save(path)`."""
        return WorkflowGraph(self.definition.to_dict(), portrait=portrait, title=self.name)

    def get_cloudformation_template(self, description: str | None = None) -> str:
        """A CloudFormation template (YAML) with this state machine as StateMachineComponent."""
        return build_cloudformation_template(self, description)

    def _require_arn(self, action: str) -> str:
        """The state machine's ARN, or WorkflowNotFound naming what needs it."""
        if self.state_machine_arn is None:
            raise WorkflowNotFound(f"Workflow {self.name} is not on Step Functions yet: call "
                                   f"create() or Workflow.attach() before you {action}.")
        return self.state_machine_arn

    def __repr__(self) -> str:
        return (f"Workflow(name={self.name!r}, role={self.role!r}, "
                f"state_machine_arn={self.state_machine_arn!r})")

    def _repr_html_(self) -> str:
        return f"<div>Workflow: {_cell(self.state_machine_arn or 'not created')}</div>" + \
            self.render_graph()._repr_html_()


class Execution:
    """One run of a workflow."""

    def __init__(self, workflow: Workflow, execution_arn: str, start_date: datetime,
                 status: ExecutionStatus | str, client: Any = None, name: str | None = None,
                 stop_date: datetime | None = None) -> None:
        self.workflow = workflow
        self.execution_arn = execution_arn
        self.start_date = start_date
        self.stop_date = stop_date
        self.status = status
        self.name = name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or self.workflow.client

    def describe(self) -> dict[str, Any]:
        """DescribeExecution's response (status, input, output...)."""
        return self.client.describe_execution(executionArn=self.execution_arn)

    def get_input(self) -> Any:
        raw = self.describe().get("input")
        return None if raw is None else json.loads(raw)

    def get_output(self, wait: bool = False, poll_seconds: float = 1.0) -> Any:
        """The execution's output; with `wait`, first poll until it stops running."""
        response = self.describe()
        while wait and response["status"] == "RUNNING":
            time.sleep(poll_seconds)
            response = self.describe()
        raw = response.get("output")
        return None if raw is None else json.loads(raw)

    def stop(self, cause: str | None = None, error: str | None = None) -> dict[str, Any]:
        params = {"executionArn": self.execution_arn}
        if cause is not None:
            params["cause"] = cause
        if error is not None:
            params["error"] = error
        return self.client.stop_execution(**params)

    @overload
    def list_events(self, max_items: int = ..., reverse_order: bool = ...,
                    html: Literal[False] = ...) -> EventsList: ...
    @overload
    def list_events(self, max_items: int = ..., reverse_order: bool = ..., *,
                    html: Literal[True]) -> HTML: ...
    def list_events(self, max_items: int = 100, reverse_order: bool = False,
                    html: bool = False) -> EventsList | HTML:
        """GetExecutionHistory's events, every page up to max_items."""
        pages = self.client.get_paginator("get_execution_history").paginate(
            executionArn=self.execution_arn, reverseOrder=reverse_order,
            PaginationConfig=_pages(max_items))
        events = EventsList(e for page in pages for e in page["events"])
        return HTML(events.to_html()) if html else events

    def render_progress(self, portrait: bool = False, max_events: int = 25000) -> WorkflowGraph:
        """The workflow's picture with each state coloured by its status in this run."""
        events = self.list_events(max_items=max_events)
        return WorkflowGraph(self.workflow.definition.to_dict(), state_statuses(events),
                             portrait=portrait, title=self.name or self.execution_arn)

    def __repr__(self) -> str:
        return (f"Execution(execution_arn={self.execution_arn!r}, name={self.name!r}, "
                f"status={self.status!r}, start_date={self.start_date!r})")

    def _repr_html_(self) -> str:
        return f"<div>Execution: {_cell(self.execution_arn)}</div>"

