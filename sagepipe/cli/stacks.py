"""`sagepipe stacks` and `sagepipe stack NAME`: the local CloudFormation's stacks, as clients of
its API (what `aws cloudformation describe-stacks` / `describe-stack-events` answer)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError, EndpointConnectionError
from rich.table import Table

from sagepipe.cli.local import _when, console, fail, target
from sagepipe.clients import client


def _cloudformation(ctx: typer.Context) -> Any:
    return client(target(ctx).running(), "cloudformation")


def _pages(cfn: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    try:
        return [item for page in cfn.get_paginator(operation).paginate(**params)
                for item in page[key]]
    except ClientError as exc:
        raise fail(exc.response["Error"]["Message"]) from None
    except EndpointConnectionError as exc:
        raise fail(str(exc)) from None


def stacks(
    ctx: typer.Context,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted stacks")] = False,
) -> None:
    """List the stacks of the local CloudFormation, newest first."""
    cfn = _cloudformation(ctx)
    table = Table("Stack", "Status", "Created", "Updated", "Description")
    for stack in _pages(cfn, "list_stacks", "StackSummaries"):
        if stack["StackStatus"] == "DELETE_COMPLETE" and not deleted:
            continue
        table.add_row(stack["StackName"], stack["StackStatus"], _when(stack["CreationTime"]),
                      _when(stack.get("DeletionTime") or stack.get("LastUpdatedTime")),
                      (stack.get("TemplateDescription") or "")[:60])
    console.print(table)


def stack(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Stack name (or id)")],
    events: Annotated[int, typer.Option(min=0, help="How many of the latest events")] = 15,
) -> None:
    """A stack: its status, outputs, resources and latest events."""
    cfn = _cloudformation(ctx)
    (found,) = _pages(cfn, "describe_stacks", "Stacks", StackName=name)
    reason = f" ({found['StackStatusReason']})" if found.get("StackStatusReason") else ""
    console.print(f"[bold]{found['StackName']}[/bold]: {found['StackStatus']}{reason}",
                  highlight=False)
    console.print(f"  {found['StackId']}", highlight=False)
    if found.get("Outputs"):
        outputs = Table("Output", "Value", "Export")
        for output in found["Outputs"]:
            outputs.add_row(output["OutputKey"], output["OutputValue"],
                            output.get("ExportName") or "")
        console.print(outputs)
    resources = Table("Resource", "Type", "Status", "Physical id")
    for resource in _pages(cfn, "list_stack_resources", "StackResourceSummaries",
                           StackName=found["StackId"]):
        resources.add_row(resource["LogicalResourceId"], resource["ResourceType"],
                          resource["ResourceStatus"], resource.get("PhysicalResourceId", ""))
    console.print(resources)
    if events:
        latest = _pages(cfn, "describe_stack_events", "StackEvents",
                        StackName=found["StackId"])[:events]
        table = Table("Time", "Resource", "Status", "Reason")
        for event in reversed(latest):
            table.add_row(_when(event["Timestamp"]), event["LogicalResourceId"],
                          event["ResourceStatus"], event.get("ResourceStatusReason") or "")
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(stacks)
    app.command()(stack)
