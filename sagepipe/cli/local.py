"""Commands for the local AWS itself."""

from __future__ import annotations

import datetime as dt
import shlex
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError, EndpointConnectionError
from rich.console import Console
from rich.table import Table

from sagepipe.clients import client, local_env
from sagepipe.config import Settings
from sagepipe.errors import AWSError
from sagepipe.images import ImageRegistry
from sagepipe.server import StartError, is_up, log_file, start_background, stop
from sagepipe.store import Store

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
image_app = typer.Typer(no_args_is_help=True, help="Local container images (`model/` dirs).")
LOG_KINDS = ("TrainingJobs", "ProcessingJobs", "Endpoints", "Apis")


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def settings_of(ctx: typer.Context) -> Settings:
    return ctx.obj


def require_up(settings: Settings) -> None:
    if not is_up(settings):
        raise fail(f"the local AWS is not running at {settings.endpoint_url}; "
                   "start it with `sagepipe up`.")


def exports(settings: Settings) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in local_env(settings).items())


def up(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on")] = None,
    home: Annotated[Path | None, typer.Option(help="State directory")] = None,
) -> None:
    """Start the local AWS in the background and print the variables to export."""
    settings = settings_of(ctx)
    if home is not None:
        settings = Settings(home=home.resolve(), port=port or settings.port)
    elif port is not None:
        settings = Settings(home=settings.home, port=port)
    try:
        pid = start_background(settings)
    except StartError as exc:
        raise fail(str(exc)) from None
    err.print(f"[green]local AWS up[/green] at {settings.endpoint_url} (pid {pid}, "
              f"home {settings.home})\nPoint AWS clients at it with:")
    console.print(exports(settings), highlight=False)


def down(ctx: typer.Context) -> None:
    """Stop the local AWS; endpoints stop with it and come back on the next `up`."""
    settings = settings_of(ctx)
    err.print("stopped" if stop(settings) else "the local AWS was not running")


def env(ctx: typer.Context) -> None:
    """Print the exports for the local AWS: `eval "$(sagepipe env)"`."""
    console.print(exports(settings_of(ctx)), highlight=False)


@image_app.command("register")
def image_register(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Image directory (with train/serve)")],
    uri: Annotated[str, typer.Option(help="Image URI the AWS build would push")],
) -> None:
    """Register DIRECTORY as the local image URI (what `docker build` + `push` do in AWS)."""
    try:
        path = ImageRegistry(Store(settings_of(ctx).db_path)).register(directory, uri)
    except AWSError as exc:
        raise fail(exc.message) from None
    console.print(f"registered {uri} -> {path}")


@image_app.command("list")
def image_list(ctx: typer.Context) -> None:
    """List the registered images."""
    table = Table("Image URI", "Directory")
    for uri, directory in ImageRegistry(Store(settings_of(ctx).db_path)).all():
        table.add_row(uri, directory)
    console.print(table)


def _when(value: Any) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) \
        else ""


def _call(settings: Settings, service: str, method: str, key: str, **kwargs: Any) -> list[Any]:
    require_up(settings)
    try:
        return getattr(client(settings, service), method)(**kwargs)[key]
    except (ClientError, EndpointConnectionError) as exc:
        raise fail(str(exc)) from None


def jobs(ctx: typer.Context,
         limit: Annotated[int, typer.Option(min=1, max=100)] = 20) -> None:
    """List training and processing jobs, newest first."""
    settings = settings_of(ctx)
    table = Table("Kind", "Name", "Status", "Created", "Ended")
    rows = [("training", j["TrainingJobName"], j["TrainingJobStatus"], j["CreationTime"],
             j.get("TrainingEndTime")) for j in _call(
        settings, "sagemaker", "list_training_jobs", "TrainingJobSummaries", MaxResults=limit)]
    rows += [("processing", j["ProcessingJobName"], j["ProcessingJobStatus"], j["CreationTime"],
              j.get("ProcessingEndTime")) for j in _call(
        settings, "sagemaker", "list_processing_jobs", "ProcessingJobSummaries",
        MaxResults=limit)]
    for kind, name, state, created, ended in sorted(rows, key=lambda r: r[3], reverse=True):
        table.add_row(kind, name, state, _when(created), _when(ended))
    console.print(table)


def endpoints(ctx: typer.Context) -> None:
    """List endpoints with their status."""
    settings = settings_of(ctx)
    table = Table("Endpoint", "Status", "Created", "Last modified")
    for e in _call(settings, "sagemaker", "list_endpoints", "Endpoints", MaxResults=100):
        table.add_row(e["EndpointName"], e["EndpointStatus"], _when(e["CreationTime"]),
                      _when(e["LastModifiedTime"]))
    console.print(table)


def log_paths(settings: Settings, name: str) -> list[Path]:
    """The log files of a job or endpoint named `name` (`gateway`: the local AWS's own log)."""
    if name == "gateway":
        return [log_file(settings)]
    logs = settings.home / "logs"
    found = [logs / kind / f"{name}.log" for kind in LOG_KINDS[:2]]
    found += sorted((logs / "Endpoints" / name).glob("*.log"), key=lambda p: p.stat().st_mtime)
    return [p for p in found if p.is_file()]


def logs(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Job or endpoint name, or `gateway`")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing")] = False,
) -> None:
    """Print the logs of a job or an endpoint (CloudWatch's /aws/sagemaker/* locally)."""
    paths = log_paths(settings_of(ctx), name)
    if not paths:
        raise fail(f"no logs for {name!r}: is it a job or endpoint name? (`sagepipe jobs`, "
                   "`sagepipe endpoints`)")
    for path in paths:
        if len(paths) > 1:
            err.print(f"[bold]== {path.name}[/bold]")
        console.out(path.read_text(errors="replace"), end="", highlight=False)
    if follow:
        with paths[-1].open(errors="replace") as stream:
            stream.seek(0, 2)
            while True:
                line = stream.readline()
                if line:
                    console.out(line, end="", highlight=False)
                else:
                    time.sleep(0.5)


def register(app: typer.Typer) -> None:
    for command in (up, down, env, jobs, endpoints, logs):
        app.command()(command)
    app.add_typer(image_app, name="image")
