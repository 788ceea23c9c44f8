"""Commands against AWS itself (the default credential chain and region, like the AWS CLI)."""

from __future__ import annotations

import sys
from typing import Annotated

import boto3
import typer

from sagepipe.cli.local import console, err, fail
from sagepipe.teardown import Clients, Deployment, TeardownError, aws_errors, resolve, run


def interactive() -> bool:
    return sys.stdin.isatty()


def teardown(
    project: Annotated[str, typer.Option(help="ProjectName the pipeline stack was created with")]
    = "sagepipe",
    pipeline_stack: Annotated[str | None, typer.Option(
        help="Name of the pipeline stack (default: <project>-pipeline)")] = None,
    region: Annotated[str | None, typer.Option(
        help="AWS region (default: AWS_DEFAULT_REGION, else the profile's)")] = None,
    profile: Annotated[str | None, typer.Option(
        help="AWS CLI profile (default: AWS_PROFILE, else the default chain)")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]
    = False,
) -> None:
    """Delete a deployment from AWS: the API and endpoint stacks, the artifact bucket and image
    repository (emptied), then the pipeline stack. Irreversible: models and data go too."""
    if not yes and not interactive():
        raise fail("refusing to delete without confirmation: run it in a terminal to be asked, "
                   "or pass --yes")
    deployment = Deployment(project, pipeline_stack or f"{project}-pipeline")
    try:
        clients = aws_errors(lambda: Clients.from_session(
            boto3.Session(profile_name=profile, region_name=region)))
        plan = aws_errors(lambda: resolve(deployment, clients))
        err.print(f"This deletes, in region {clients.region}, in this order:", highlight=False)
        for step in plan.steps():
            err.print(f"  - {step}", highlight=False)
        if not yes and not typer.confirm("Delete all of it?", default=False, err=True):
            raise fail("aborted: nothing was deleted")
        aws_errors(lambda: run(plan, clients, lambda line: console.print(line, highlight=False)))
    except TeardownError as exc:
        raise fail(str(exc)) from None
    err.print("[green]teardown complete[/green]")


def register(app: typer.Typer) -> None:
    app.command()(teardown)
