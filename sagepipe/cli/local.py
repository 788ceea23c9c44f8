"""Commands for the local AWS itself."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError, EndpointConnectionError
from rich.console import Console
from rich.table import Table

from sagepipe import instances
from sagepipe.clients import Unreachable, client, internal, local_env
from sagepipe.config import DEFAULT_PORT, Settings, default_home
from sagepipe.errors import AWSError
from sagepipe.logs.streams import LogStream, streams_of
from sagepipe.server import StartError, log_file, start_background, stop

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
image_app = typer.Typer(no_args_is_help=True, help="Local container images (`model/` dirs).")


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


@dataclass
class Target:
    """Which local AWS a command means: every command is a client of a running local AWS,
    found by sagepipe/instances.py from `--home`/`SAGEPIPE_HOME`, `--port`, `AWS_ENDPOINT_URL`,
    the default home's record, or the one instance running; each says on stderr which it used."""

    home: Path | None = None
    port: int | None = None

    def own(self) -> Settings:
        """The instance `up` and `run` start: the home given (default: the repository's
        .sagepipe/), on the port given, else the one it last ran on, else the default."""
        home = (self.home or default_home()).resolve()
        return Settings(home, self.port or instances.recorded_port(home) or DEFAULT_PORT)

    def running(self) -> Settings:
        """The running instance this command talks to; exits with what to do if there is none."""
        try:
            instance = instances.find(self.home, self.port, os.environ.get("AWS_ENDPOINT_URL"))
        except instances.NotRunning as exc:
            raise fail(str(exc)) from None
        say_which(instance.settings)
        return instance.settings

    def current(self) -> tuple[Settings, bool]:
        """The running instance if there is one, else the one `up` would start (not running):
        for commands that still help when it is stopped (`env`, `status`, `logs`)."""
        try:
            instance = instances.find(self.home, self.port, os.environ.get("AWS_ENDPOINT_URL"))
        except instances.NotRunning:
            settings = self.own()
            say_which(settings, running=False)
            return settings, False
        say_which(instance.settings)
        return instance.settings, True


def say_which(settings: Settings, running: bool = True) -> None:
    state = "" if running else ", not running"
    err.print(f"[dim]local AWS: {settings.endpoint_url} (home {settings.home}{state})[/dim]",
              highlight=False)


def target(ctx: typer.Context) -> Target:
    return ctx.obj


def exports(settings: Settings) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in local_env(settings).items())


def up(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on")] = None,
    home: Annotated[Path | None, typer.Option(help="State directory")] = None,
) -> None:
    """Start the local AWS in the background and print the variables to export."""
    given = target(ctx)
    settings = Target(home or given.home, port or given.port).own()
    try:
        instance = start_background(settings)
    except StartError as exc:
        raise fail(str(exc)) from None
    err.print(f"[green]local AWS up[/green] at {instance.endpoint_url} (pid {instance.pid}, "
              f"home {instance.home})\nPoint AWS clients at it with:", highlight=False)
    console.print(exports(instance.settings), highlight=False)


def down(ctx: typer.Context) -> None:
    """Stop the local AWS (by its recorded pid, waiting until it has exited); endpoints and
    APIs stop with it and come back on the next `up`."""
    given = target(ctx)
    try:
        instance = instances.find(given.home, given.port, os.environ.get("AWS_ENDPOINT_URL"))
    except instances.Ambiguous as exc:
        raise fail(str(exc)) from None
    except instances.NotRunning:
        err.print(f"the local AWS was not running (home {given.own().home})", highlight=False)
        return
    say_which(instance.settings)
    stop(instance.settings)
    err.print(f"stopped (pid {instance.pid})")


def env(ctx: typer.Context) -> None:
    """Print the exports for the running local AWS: `eval "$(sagepipe env)"`."""
    settings, _running = target(ctx).current()
    console.print(exports(settings), highlight=False)


@image_app.command("register")
def image_register(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Image directory (with train/serve)")],
    uri: Annotated[str, typer.Option(help="Image URI the AWS build would push")],
    file: Annotated[Path | None, typer.Option(
        "--file", "-f", help="Dockerfile (default: DIRECTORY/Dockerfile, if there is one)")] = None,
) -> None:
    """Register DIRECTORY as the local image URI (what `docker build` + `push` do in AWS),
    through the running local AWS; with a Dockerfile, built from it (its warnings say what a
    directory image cannot honour)."""
    settings = target(ctx).running()
    body = {"uri": uri, "directory": str(directory.resolve())}
    if file is not None:
        body["dockerfile"] = str(file.resolve())
    try:
        image = internal(settings, "PUT", "images", body, timeout=1800)
    except AWSError as exc:
        raise fail(exc.message) from None
    except Unreachable as exc:
        raise fail(str(exc)) from None
    for warning in image["warnings"]:
        console.print(f"warning: {warning}", style="yellow", highlight=False)
    console.print(f"registered {image['uri']} -> {image['directory']}", highlight=False)


@image_app.command("list")
def image_list(ctx: typer.Context) -> None:
    """List the registered images."""
    try:
        images = internal(target(ctx).running(), "GET", "images")
    except (AWSError, Unreachable) as exc:
        raise fail(str(exc)) from None
    table = Table("Image URI", "Directory")
    for image in images:
        table.add_row(image["uri"], image["directory"])
    console.print(table)


def _when(value: Any) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) \
        else ""


def _call(settings: Settings, service: str, method: str, key: str, **kwargs: Any) -> list[Any]:
    try:
        return getattr(client(settings, service), method)(**kwargs)[key]
    except (ClientError, EndpointConnectionError) as exc:
        raise fail(str(exc)) from None


# `sagepipe jobs` rows: kind, and the List* call, summaries key and field prefix of each kind.
JOB_KINDS = (("training", "list_training_jobs", "TrainingJob", "Training"),
             ("processing", "list_processing_jobs", "ProcessingJob", "Processing"),
             ("transform", "list_transform_jobs", "TransformJob", "Transform"))


def jobs(ctx: typer.Context,
         limit: Annotated[int, typer.Option(min=1, max=100)] = 20) -> None:
    """List training, processing and transform jobs, newest first."""
    settings = target(ctx).running()
    table = Table("Kind", "Name", "Status", "Created", "Ended")
    rows = [(kind, j[f"{resource}Name"], j[f"{resource}Status"], j["CreationTime"],
             j.get(f"{prefix}EndTime"))
            for kind, method, resource, prefix in JOB_KINDS
            for j in _call(settings, "sagemaker", method, f"{resource}Summaries",
                           MaxResults=limit)]
    for kind, name, state, created, ended in sorted(rows, key=lambda r: r[3],
                                                     reverse=True)[:limit]:
        table.add_row(kind, name, state, _when(created), _when(ended))
    console.print(table)


def endpoints(ctx: typer.Context) -> None:
    """List endpoints with their status."""
    settings = target(ctx).running()
    table = Table("Endpoint", "Status", "Created", "Last modified")
    for e in _call(settings, "sagemaker", "list_endpoints", "Endpoints", MaxResults=100):
        table.add_row(e["EndpointName"], e["EndpointStatus"], _when(e["CreationTime"]),
                      _when(e["LastModifiedTime"]))
    console.print(table)


def logs(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(
        help="Job, endpoint, function, state machine or execution name, or `gateway`")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing")] = False,
) -> None:
    """Print the logs of a job, an endpoint, a function, a state machine or an execution, as
    CloudWatch Logs has them (/aws/sagemaker/*, /aws/lambda/*, /aws/vendedlogs/states/*:
    `aws logs tail` reads the same), or the gateway's own."""
    settings = target(ctx).current()[0]
    if name == "gateway":
        _print_file(log_file(settings), follow)
        return
    streams = streams_of(settings.home, name)
    if not streams:
        raise fail(f"no logs for {name!r}: is it a job, endpoint, function, state machine or "
                   "execution name? (`sagepipe jobs`, `sagepipe endpoints`, "
                   "`sagepipe states executions`)")
    offset = 0  # in the last stream, the one --follow keeps reading
    for stream in streams:
        if len(streams) > 1:
            sys.stdout.flush()
            err.print(f"[bold]== {stream.group} {stream.name}[/bold]", highlight=False)
        offset = _print_events(stream, 0)
    while follow:
        time.sleep(0.5)
        offset = _print_events(streams[-1], offset)


def _print_events(stream: LogStream, offset: int) -> int:
    """Print the events of `stream` from `offset` on as they were written (rich's console
    would expand the tabs of REPORT lines); the offset after them."""
    for event in stream.events(offset):
        sys.stdout.write(event.message + "\n")
        offset = event.end
    sys.stdout.flush()
    return offset


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _print_file(path: Path, follow: bool) -> None:
    _write(path.read_text(errors="replace"))
    if follow:
        with path.open(errors="replace") as stream:
            stream.seek(0, 2)
            while True:
                line = stream.readline()
                if line:
                    _write(line)
                else:
                    time.sleep(0.5)


def register(app: typer.Typer) -> None:
    for command in (up, down, env, jobs, endpoints, logs):
        app.command()(command)
    app.add_typer(image_app, name="image")
