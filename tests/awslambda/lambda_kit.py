"""Helpers of tests/awslambda (import as `awslambda.lambda_kit`): deployment packages made in
memory and functions created through boto3, with the handlers the tests run."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from testkit import unique

ROLE = "arn:aws:iam::000000000000:role/lambda-tests"

# One module with every behaviour the tests need, chosen by the event: a counter that only a
# warm (reused) sandbox keeps, the context and environment as the handler sees them, S3 through
# boto3, errors, a hang, an exit, a large answer, and a rendezvous of two invocations.
HANDLER = r'''
import json
import os
import sys
import time
from pathlib import Path

import boto3

invocations = 0  # module state: survives between invocations of a warm sandbox
print("module imported")


def handler(event, context):
    global invocations
    invocations += 1
    action = event.get("action", "echo") if isinstance(event, dict) else "echo"
    print(f"action {action}")
    if isinstance(event, dict) and "requestPayload" in event:  # a destination's record
        Path(event["requestPayload"]["dir"], "destination.json").write_text(json.dumps(event))
    if action == "raise":
        raise ValueError("the handler refused: " + str(event.get("why")))
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        sys.exit(event.get("code", 1))
    if action == "big":
        return "x" * event["size"]
    if action == "unserializable":
        return {"a set": {1, 2}}
    if action == "put":
        time.sleep(event.get("delay", 0))
        boto3.client("s3").put_object(Bucket=event["bucket"], Key=event["key"],
                                      Body=json.dumps(event).encode())
    if action == "meet":  # wait until the other invocation has arrived too
        mine, other = Path(event["dir"], event["me"]), Path(event["dir"], event["other"])
        mine.write_text(str(os.getpid()))
        while not other.exists():
            time.sleep(0.05)
    if action == "record":  # one file per attempt, then fail
        folder = Path(event["dir"])
        (folder / f"attempt-{len(list(folder.iterdir())) + 1}").write_text(context.aws_request_id)
        raise RuntimeError("attempt failed")
    return {
        "invocations": invocations, "pid": os.getpid(), "event": event,
        "context": {
            "aws_request_id": context.aws_request_id, "function_name": context.function_name,
            "function_version": context.function_version,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "log_group_name": context.log_group_name, "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
        },
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "TZ", "GREETING"))},
        "cwd": os.getcwd(), "path0": sys.path[0],
    }
'''


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()



def create(lam: Any, files: dict[str, str] | None = None, **settings: Any) -> str:
    """A function of `files` (the test handler by default), Active: its name."""
    name = settings.pop("FunctionName", unique("fn"))
    lam.create_function(**{"FunctionName": name, "Runtime": "python3.12", "Role": ROLE,
                           "Handler": "app.handler", "Timeout": 10,
                           "Code": {"ZipFile": zip_of(files or {"app.py": HANDLER})},
                           **settings})
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return name


def invoke(lam: Any, name: str, event: Any = None, **options: Any) -> tuple[dict, Any]:
    """(the Invoke response, its decoded payload)."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(),
                          **options)
    raw = response["Payload"].read()
    return response, json.loads(raw) if raw else None
