"""Commands for the local pipeline: run it, watch the branch, follow it, approve or reject."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError
from rich.live import Live
from rich.table import Table

from sagepipe.cli.local import console, err, fail, say_which, target
from sagepipe.clients import client
from sagepipe.cloudformation.template import TemplateError
from sagepipe.config import Settings
from sagepipe.pipeline.executor import PipelineError, executor_for
from sagepipe.pipeline.history import History
from sagepipe.server import StartError
from sagepipe.store import Store

STATUS_STYLE = {"Succeeded": "green", "Failed": "red", "InProgress": "yellow", "Pending": "dim"}


def repo_root() -> Path:
    done = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if done.returncode != 0:
        raise fail("run this inside the git checkout of the project")
    return Path(done.stdout.strip())


def run(
    ctx: typer.Context,
    auto_approve: Annotated[bool, typer.Option(
        help="Approve the manual approval at once (for CI); otherwise wait for "
             "`sagepipe approve` / `sagepipe reject`")] = False,
    template: Annotated[Path | None, typer.Option(
        help="Pipeline template [default: CodePipeline/pipeline.yaml]")] = None,
) -> None:
    """Run the pipeline of CodePipeline/pipeline.yaml locally, on the current commit."""
    settings = target(ctx).own()
    say_which(settings)
    try:
        executor = executor_for(settings, repo_root(), auto_approve, template)
        doc = executor.run()
    except (PipelineError, TemplateError, StartError) as exc:
        raise fail(str(exc)) from None
    if doc["Status"] != "Succeeded":
        raise typer.Exit(1)


def watch(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between checks")] = 5,
    auto_approve: Annotated[bool, typer.Option()] = False,
    template: Annotated[Path | None, typer.Option(
        help="Pipeline template [default: CodePipeline/pipeline.yaml]")] = None,
) -> None:
    """Run the pipeline on every new commit of the current branch (the local `git push`)."""
    settings, repo = target(ctx).own(), repo_root()
    say_which(settings)
    last = None
    err.print(f"watching {repo} for new commits (Ctrl-C to stop)")
    while True:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        if head and head != last:
            last = head
            try:
                executor_for(settings, repo, auto_approve, template).run(trigger="watch")
            except (PipelineError, TemplateError, StartError) as exc:
                err.print(f"[red]error:[/red] {exc}", highlight=False)
        time.sleep(interval)


def _duration(item: dict[str, Any]) -> str:
    if not item.get("Started"):
        return ""
    return f"{(item.get('Ended') or time.time()) - item['Started']:.1f}s"


def execution_table(doc: dict[str, Any]) -> Table:
    table = Table(title=f"{doc['Pipeline']} execution {doc['ExecutionId']} "
                        f"({doc['Commit'][:10]}, {doc['Trigger']}): "
                        f"[{STATUS_STYLE.get(doc['Status'], '')}]{doc['Status']}[/] "
                        f"{_duration(doc)}")
    for column in ("Stage", "Action", "Status", "Time", "Details"):
        table.add_column(column)
    for stage in doc["Stages"]:
        for i, action in enumerate(stage["Actions"]):
            style = STATUS_STYLE.get(action["Status"], "")
            details = action.get("Error") or ", ".join(
                f"{k}={v}" for k, v in (action.get("Variables") or {}).items())[:120]
            table.add_row(stage["Name"] if i == 0 else "", action["Name"],
                          f"[{style}]{action['Status']}[/]", _duration(action), details)
    return table


def status(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("--follow", "-f",
                                         help="Refresh until the execution ends")] = False,
) -> None:
    """Show the local AWS and the latest pipeline execution, like the CodePipeline console."""
    settings, running = target(ctx).current()
    state = "running" if running else "stopped"
    console.print(f"local AWS {state} at {settings.endpoint_url} (home {settings.home})")
    history = History(Store(settings.db_path))
    latest = history.latest()
    if not latest:
        console.print("no pipeline execution yet: `sagepipe run`")
        return
    if not follow:
        console.print(execution_table(latest[0]))
        return
    with Live(execution_table(latest[0]), console=console, refresh_per_second=2) as live:
        while True:
            doc = history.get(latest[0]["ExecutionId"]) or latest[0]
            live.update(execution_table(doc))
            if doc["Status"] != "InProgress":
                break
            time.sleep(0.5)


def _decide(settings: Settings, approved: bool, comment: str) -> None:
    history = History(Store(settings.db_path))
    pending = history.pending()
    if not pending:
        raise fail("no approval is waiting (`sagepipe status` shows the pipeline)")
    request = pending[0]
    if not history.decide(request["token"], approved, comment):
        raise fail("that approval was already answered")
    verb = "approved" if approved else "rejected"
    console.print(f"{verb} {request['action']} of execution {request['execution_id']}")


def approve(ctx: typer.Context,
            comment: Annotated[str, typer.Option(help="Why")] = "") -> None:
    """Approve the pipeline's waiting manual approval."""
    _decide(target(ctx).running(), True, comment)


def reject(ctx: typer.Context,
           comment: Annotated[str, typer.Option(help="Why (kept in the history)")]) -> None:
    """Reject the waiting manual approval: the run stops and prod stays as it was."""
    _decide(target(ctx).running(), False, comment)


def invoke(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="Endpoint name")],
    body: Annotated[str, typer.Option(help="Request body")],
    content_type: Annotated[str, typer.Option(help="MIME type of the body")] = "text/csv",
    accept: Annotated[str, typer.Option(help="MIME type wanted back")] = "application/json",
) -> None:
    """Call an endpoint through the local SageMaker Runtime and print its answer."""
    settings = target(ctx).running()
    try:
        reply = client(settings, "sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, Body=body.encode(), ContentType=content_type, Accept=accept)
    except ClientError as exc:
        raise fail(f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}") \
            from None
    console.print(reply["Body"].read().decode(), highlight=False)
    err.print(f"[dim]same call with the AWS CLI:\n  aws --endpoint-url {settings.endpoint_url} "
              f"sagemaker-runtime invoke-endpoint --endpoint-name {endpoint} "
              f"--content-type {content_type} --accept {accept} --body '{body}' /dev/stdout\n"
              "  (AWS CLI v2: add --cli-binary-format raw-in-base64-out)[/dim]")


def register(app: typer.Typer) -> None:
    for command in (run, watch, status, approve, reject, invoke):
        app.command()(command)
