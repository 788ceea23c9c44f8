"""`sagepipe api`: the REST APIs the local AWS serves (the Chalice API the pipeline deploys)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from sagepipe.cli.local import console, err, fail, target
from sagepipe.clients import Unreachable, internal
from sagepipe.config import Settings
from sagepipe.errors import AWSError
from sagepipe.sigv4 import sign

SERVICE = "execute-api"

api_app = typer.Typer(no_args_is_help=True, help="REST APIs served locally (IAM auth).")


def served_apis(settings: Settings) -> list[dict[str, Any]]:
    try:
        apis: list[dict[str, Any]] = internal(settings, "GET", "serverless/restapis", timeout=10)
    except (AWSError, Unreachable) as exc:
        raise fail(str(exc)) from None
    if not apis:
        raise fail("no API is deployed: the pipeline's Prod.DeployApi action deploys it "
                   "(`sagepipe run`)")
    return apis


@api_app.command("url")
def url(ctx: typer.Context) -> None:
    """Print the URL of each API (stdout) and how to call it with IAM auth (stderr)."""
    settings = target(ctx).running()
    for api in served_apis(settings):
        if api.get("Url"):
            console.out(api["Url"], highlight=False)
        else:
            err.print(f"[red]{api['Id']} is not serving:[/red] {api.get('FailureReason')}")
        functions = ", ".join(arn.partition(":function:")[2] for arn in api.get("Functions", []))
        err.print(f"[dim]  REST API {api['Id']}, function {functions} (its log: `sagepipe logs "
                  "FUNCTION`)[/dim]")
    err.print(
        f"[dim]Requests need SigV4 (IAM) signatures for service {SERVICE}, region "
        f"{settings.region}, with the home's credentials (`eval \"$(sagepipe env)\"` exports "
        "them); for example:\n"
        f"  curl --aws-sigv4 'aws:amz:{settings.region}:{SERVICE}' "
        "--user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" "
        "-H 'Content-Type: application/json' "
        "-d '{\"records\": [{\"Pclass\": 1, \"Sex\": \"female\", \"Age\": 29}]}' URL/predict\n"
        "or `sagepipe api call predict --body '...'`[/dim]", soft_wrap=True)


@api_app.command("call")
def call(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Route under the API's URL, e.g. predict")],
    body: Annotated[str | None, typer.Option(help="JSON body (POST); none: GET")] = None,
    api_id: Annotated[str | None, typer.Option("--api", help="REST API id, if several")] = None,
) -> None:
    """Call the API with a SigV4-signed request, as an AWS SDK would, and print the answer."""
    settings = target(ctx).running()
    apis = [api for api in served_apis(settings)
            if api.get("Url") and api_id in (None, api["Id"])]
    if len(apis) != 1:
        raise fail(f"{len(apis)} APIs serving{f' with id {api_id}' if api_id else ''}; "
                   "`sagepipe api url` lists them, `--api ID` picks one")
    address = apis[0]["Url"] + path.lstrip("/")
    method, data = ("POST", body.encode()) if body is not None else ("GET", b"")
    credentials = settings.credentials
    headers = sign(method, address, data, credentials.access_key_id,
                   credentials.secret_access_key, settings.region,
                   {"Content-Type": "application/json"} if body is not None else None)
    reply = httpx.request(method, address, content=data, headers=headers, timeout=60,
                          trust_env=False)
    console.out(reply.text, highlight=False)
    if reply.is_error:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(api_app, name="api")
