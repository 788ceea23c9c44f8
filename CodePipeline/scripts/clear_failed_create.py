"""Delete each named stack that is in ROLLBACK_COMPLETE, and leave every other stack alone.

Run by the ClearFailedCreate build (CodePipeline/buildspecs/clear-failed-create.yml) before
the prod deploy actions. Those use CodePipeline's CREATE_UPDATE mode, which fails on a stack in
a failed state; the only failed state a stack reaches by itself on a *first* create is
ROLLBACK_COMPLETE, and CloudFormation allows nothing on it but a delete. Such a stack has no
resources left (its rollback deleted them), so deleting it takes nothing away from prod.

REPLACE_ON_FAILURE would recover it too, but it also deletes a stack in UPDATE_ROLLBACK_FAILED
(or any other failed state), which for prod is a stack whose endpoint still serves; that is
why prod keeps CREATE_UPDATE and this narrower step. Reaches AWS through boto3 only (locally,
AWS_ENDPOINT_URL sends it to the local CloudFormation).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3
from botocore.exceptions import ClientError

EMPTY_AFTER_FAILED_CREATE = "ROLLBACK_COMPLETE"


def stack_status(cfn: Any, name: str) -> str | None:
    """The stack's status, or None when no stack of that name exists."""
    try:
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        error = exc.response["Error"]
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            return None
        raise
    return stack["StackStatus"]


def clear(cfn: Any, name: str) -> str:
    """Delete `name` if it is ROLLBACK_COMPLETE (and wait until it is gone); say what was done."""
    status = stack_status(cfn, name)
    if status is None:
        return f"{name}: no such stack yet; the deploy creates it"
    if status != EMPTY_AFTER_FAILED_CREATE:
        return f"{name}: {status}, left as it is"
    cfn.delete_stack(StackName=name)
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    return f"{name}: was {status} (a first create that failed, no resources); deleted"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="+", metavar="STACK", help="stack names")
    args = parser.parse_args(argv)
    cfn = boto3.client("cloudformation")
    for name in args.stacks:
        print(clear(cfn, name), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
