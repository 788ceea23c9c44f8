"""Helpers of the CloudFormation API tests: the AWS CLI against the local AWS, waiters that poll
each second, model artifacts for the stub model server, unique names."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from testkit import REPO

from sagepipe.clients import local_env
from sagepipe.config import Settings

BIN = Path(sys.executable).parent
ECHO_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/echo:cfn-api"
MODELS_BUCKET = "cfn-api-models"
FAST = {"Delay": 1, "MaxAttempts": 300}



def aws_cli(settings: Settings, *args: str, check: bool = True,
            cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The AWS CLI, pointed at the local AWS the way `eval "$(sagepipe env)"` does."""
    env = {**os.environ, **local_env(settings), "AWS_PAGER": ""}
    done = subprocess.run([str(BIN / "aws"), *args], env=env, capture_output=True, text=True,
                          timeout=600, check=False, cwd=cwd)
    if check and done.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({done.returncode}):\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


def wait(cfn: Any, waiter: str, **params: Any) -> None:
    cfn.get_waiter(waiter).wait(WaiterConfig=FAST, **params)


def model_data(s3: Any, version: str) -> str:
    """A model.tar.gz the stub model server serves as `<version>:<body>` (`crash`: it exits)."""
    if MODELS_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=MODELS_BUCKET)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("version.txt")
        info.size = len(version)
        tar.addfile(info, io.BytesIO(version.encode()))
    s3.put_object(Bucket=MODELS_BUCKET, Key=f"{version}/model.tar.gz", Body=buffer.getvalue())
    return f"s3://{MODELS_BUCKET}/{version}/model.tar.gz"


def invoke(runtime: Any, endpoint: str) -> str:
    reply = runtime.invoke_endpoint(EndpointName=endpoint, Body=b"x", ContentType="text/plain")
    return reply["Body"].read().decode()


def statuses(cfn: Any, stack: str, logical: str | None = None) -> list[str]:
    """The stack's (or one resource's) statuses, oldest first."""
    events = cfn.get_paginator("describe_stack_events").paginate(StackName=stack)
    found = [e for page in events for e in page["StackEvents"]
             if e["LogicalResourceId"] == (logical or e["StackName"])]
    return [e["ResourceStatus"] for e in reversed(found)]


def parameters(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
