"""`sagepipe states`: the local Step Functions' state machines and executions, as a client of
its API (boto3), like the Step Functions console: lists, an execution's stage-by-stage view
(followed live until it ends) and its history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError, EndpointConnectionError
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sagepipe.cli.local import console, fail, target
from sagepipe.clients import client
from sagepipe.stepfunctions.asl.history import details_member

states_app = typer.Typer(no_args_is_help=True,
                         help="Local Step Functions: state machines and executions.")
STATUS_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "TIMED_OUT": "red", "ABORTED": "red",
                "RUNNING": "yellow", "succeeded": "green", "failed": "red", "running": "yellow",
                "caught": "yellow", "aborted": "red"}
FAILURES = ("Failed", "TimedOut", "StartFailed", "SubmitFailed")
POLL_SECONDS = 1.0


@dataclass
class Stage:
    """One state of the execution, however often it ran (a Map's iterations, retries)."""

    name: str
    type: str
    entered: int = 0
    exited: int = 0
    started: datetime | None = None
    ended: datetime | None = None
    last_outcome: str = ""  # the last Task/Lambda/... event: Succeeded, Failed, ...
    failures: list[str] = field(default_factory=list)
    aborted: bool = False
    detail: str = ""
    iterations: list[int] = field(default_factory=lambda: [0, 0])  # Map: [done, started]

    def status(self, execution_running: bool) -> str:
        if self.type == "Fail":
            return "failed"
        if self.aborted:
            return "aborted"
        if self.exited < self.entered:
            return "running" if execution_running else "failed"
        if self.failures and self.last_outcome != "Succeeded":
            return "caught"
        return "succeeded"


def stages(events: list[dict[str, Any]]) -> list[Stage]:
    """The stages of an execution from its history. Events that name their state say whose
    they are; any other belongs to the state whose StateEntered it follows (previousEventId),
    which keeps Parallel branches and Map iterations apart."""
    found: dict[str, Stage] = {}
    owner: dict[int, str | None] = {}
    for event in sorted(events, key=lambda e: e["id"]):
        kind = event["type"]
        details = event.get(details_member(kind)) or {}
        named = kind.endswith(("StateEntered", "StateExited")) or kind.startswith("MapIteration")
        name = details["name"] if named else owner.get(event["previousEventId"])
        if kind.endswith("StateEntered"):
            name = details["name"]
            entered = found.setdefault(name, Stage(name, kind[:-len("StateEntered")]))
            entered.entered += 1
            entered.started = entered.started or event["timestamp"]
        owner[event["id"]] = name
        stage = found.get(name) if name else None
        if stage is None:
            continue
        if kind.endswith("StateExited"):
            stage.exited += 1
            stage.ended = event["timestamp"]
            owner[event["id"]] = None
        elif kind.endswith("StateAborted"):
            stage.aborted = True
        elif kind == "MapIterationStarted":
            stage.iterations[1] += 1
        elif kind in ("MapIterationSucceeded", "MapIterationFailed", "MapIterationAborted"):
            stage.iterations[0] += 1
        elif kind.endswith("Scheduled") and details.get("resource"):
            service = details.get("resourceType")
            stage.detail = f"{service}:{details['resource']}" if service else \
                details["resource"]
        elif kind.endswith(("Succeeded", *FAILURES)) and not kind.startswith(
                ("Map", "Parallel", "Execution")):
            stage.last_outcome = next((s for s in FAILURES if kind.endswith(s)), "Succeeded")
            if stage.last_outcome != "Succeeded":
                stage.failures.append(details.get("error") or kind)
    return list(found.values())


def _when(moment: Any) -> str:
    return moment.astimezone().strftime("%H:%M:%S") if isinstance(moment, datetime) else ""


def _seconds(start: Any, end: Any) -> str:
    if not isinstance(start, datetime):
        return ""
    end = end if isinstance(end, datetime) else datetime.now(start.tzinfo)
    return f"{(end - start).total_seconds():.1f}s"


def execution_view(execution: dict[str, Any], events: list[dict[str, Any]]) -> Group:
    """The execution as the console shows it: a title, its stages, how it ended."""
    status = execution["status"]
    running = status == "RUNNING"
    title = Text.from_markup(
        f"[bold]{execution['name']}[/bold] ({execution['stateMachineArn'].split(':')[-1]}): "
        f"[{STATUS_STYLE.get(status, '')}]{status}[/] "
        f"{_seconds(execution['startDate'], execution.get('stopDate'))}")
    table = Table("Stage", "Type", "Status", "Runs", "Started", "Time", "Detail")
    for stage in stages(events):
        state = stage.status(running)
        runs = str(stage.entered)
        if stage.type == "Map":
            runs = f"{stage.iterations[0]}/{stage.iterations[1]} items"
        detail = stage.detail
        if stage.failures:
            detail = f"{detail} {len(stage.failures)} failure(s): {stage.failures[-1]}".strip()
        table.add_row(stage.name, stage.type, f"[{STATUS_STYLE.get(state, '')}]{state}[/]", runs,
                      _when(stage.started),
                      _seconds(stage.started, stage.ended if stage.exited >= stage.entered
                               else None if running else execution.get("stopDate")),
                      detail)
    parts: list[Any] = [title, table]
    if execution.get("error") or execution.get("cause"):
        parts.append(Text(f"{execution.get('error', '')}: {execution.get('cause', '')}",
                          style="red"))
    return Group(*parts)


def _sfn(ctx: typer.Context) -> Any:
    return client(target(ctx).running(), "stepfunctions")


@contextmanager
def _answers() -> Iterator[None]:
    """The API's errors as the command's own failure, in one line."""
    try:
        yield
    except ClientError as exc:
        raise fail(f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}") \
            from None
    except EndpointConnectionError as exc:
        raise fail(str(exc)) from None


def _all(sfn: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    with _answers():
        return [item for page in sfn.get_paginator(operation).paginate(**params)
                for item in page[key]]


def _machine_arn(sfn: Any, machine: str) -> str:
    if machine.startswith("arn:"):
        return machine
    for found in _all(sfn, "list_state_machines", "stateMachines"):
        if found["name"] == machine:
            return found["stateMachineArn"]
    raise fail(f"no state machine named {machine!r} (`sagepipe states list`)")


def _execution_arn(sfn: Any, execution: str) -> str:
    """An execution ARN, or the newest execution of that name in any state machine."""
    if execution.startswith("arn:"):
        return execution
    found = [e for machine in _all(sfn, "list_state_machines", "stateMachines")
             if machine["type"] == "STANDARD"
             for e in _all(sfn, "list_executions", "executions",
                           stateMachineArn=machine["stateMachineArn"])
             if e["name"] == execution]
    if not found:
        raise fail(f"no execution named {execution!r} (`sagepipe states executions`)")
    return max(found, key=lambda e: e["startDate"])["executionArn"]


@states_app.command("list")
def list_machines(ctx: typer.Context) -> None:
    """List the state machines."""
    table = Table("Name", "Type", "Created", "ARN")
    for machine in _all(_sfn(ctx), "list_state_machines", "stateMachines"):
        table.add_row(machine["name"], machine["type"],
                      machine["creationDate"].astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                      machine["stateMachineArn"])
    console.print(table)


@states_app.command()
def executions(
    ctx: typer.Context,
    machine: Annotated[str | None, typer.Argument(
        help="State machine name or ARN [default: all]")] = None,
) -> None:
    """List executions, newest first."""
    sfn = _sfn(ctx)
    machines = [_machine_arn(sfn, machine)] if machine else [
        m["stateMachineArn"] for m in _all(sfn, "list_state_machines", "stateMachines")
        if m["type"] == "STANDARD"]
    rows = [e for arn in machines
            for e in _all(sfn, "list_executions", "executions", stateMachineArn=arn)]
    table = Table("State machine", "Execution", "Status", "Started", "Time")
    for e in sorted(rows, key=lambda e: e["startDate"], reverse=True):
        table.add_row(e["stateMachineArn"].split(":")[-1], e["name"],
                      f"[{STATUS_STYLE.get(e['status'], '')}]{e['status']}[/]",
                      e["startDate"].astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                      _seconds(e["startDate"], e.get("stopDate")))
    console.print(table)


@states_app.command()
def show(
    ctx: typer.Context,
    execution: Annotated[str, typer.Argument(help="Execution ARN or name")],
    follow: Annotated[bool, typer.Option(
        "--follow/--no-follow", help="Follow a running execution until it ends")] = True,
) -> None:
    """Show an execution stage by stage, live until it ends."""
    sfn = _sfn(ctx)
    arn = _execution_arn(sfn, execution)

    def view() -> tuple[Group, bool]:
        with _answers():
            described = sfn.describe_execution(executionArn=arn)
        events = _all(sfn, "get_execution_history", "events", executionArn=arn,
                      includeExecutionData=False)
        return execution_view(described, events), described["status"] == "RUNNING"

    current, running = view()
    if not (follow and running):
        console.print(current)
        return
    with Live(current, console=console, refresh_per_second=4) as live:
        while running:
            time.sleep(POLL_SECONDS)
            current, running = view()
            live.update(current)


@states_app.command()
def history(
    ctx: typer.Context,
    execution: Annotated[str, typer.Argument(help="Execution ARN or name")],
) -> None:
    """Print an execution's history events (GetExecutionHistory)."""
    sfn = _sfn(ctx)
    arn = _execution_arn(sfn, execution)
    table = Table("Id", "Time", "Type", "Detail")
    for event in _all(sfn, "get_execution_history", "events", executionArn=arn):
        details = event.get(details_member(event["type"])) or {}
        words = [str(details[k]) for k in ("name", "resourceType", "resource", "error", "cause")
                 if details.get(k)]
        table.add_row(str(event["id"]), event["timestamp"].astimezone().strftime(
            "%H:%M:%S.%f")[:-3], event["type"], " ".join(words)[:200])
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(states_app, name="states")
