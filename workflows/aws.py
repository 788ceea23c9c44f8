"""Running a workflow from the command line, against AWS or the local AWS.

Every module's `main` does the same: read the common arguments (bucket, prefix, roles, instance
type), upload its data, create or update its state machine (or use the one its CloudFormation
stack made: `--state-machine-arn`), start an execution and follow it to its end. boto3 finds the
endpoint and credentials in the environment (`eval "$(sagepipe env)"` locally), so the same
command runs in AWS. The defaults suit the local AWS, where IAM is not enforced; in AWS, give the
roles the workflow's stack creates (or your own).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

import boto3
import rich
from botocore.exceptions import ClientError

from ds_stepfunctions.workflow import Execution, Workflow

LOCAL_ACCOUNT = "000000000000"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
ECR_IMAGE = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/"
                       r"(?P<repository>[^:@]+):(?P<tag>[\w.-]+)")


@dataclass(frozen=True)
class Place:
    """Where a workflow keeps its data and who its jobs run as: the values its definition
    bakes in. Templates build the definition with `${Parameter}` strings instead (stack.py)."""

    bucket: str
    prefix: str
    sagemaker_role_arn: str
    instance_type: str = "ml.m5.large"

    def uri(self, *parts: str) -> str:
        return "/".join([f"s3://{self.bucket}", self.prefix, *parts])


@dataclass(frozen=True)
class Settings:
    place: Place
    name: str  # the state machine's name
    workflow_role_arn: str
    state_machine_arn: str | None
    region: str
    wait: bool


def local_role(name: str) -> str:
    return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{name}"


def local_image(repository: str) -> str:
    """An image URI in the local registry (`sagepipe image register DIR --uri ...`)."""
    return f"{LOCAL_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{repository}:latest"


def parser(description: str, name: str) -> argparse.ArgumentParser:
    """The arguments every workflow takes; modules add their own (images, names)."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--bucket", default=os.environ.get("WORKFLOWS_BUCKET", "sagepipe-workflows"),
                   help="bucket for data and artifacts (created if missing; env "
                        "WORKFLOWS_BUCKET)")
    p.add_argument("--prefix", default="workflows", help="key prefix in the bucket")
    p.add_argument("--role-arn", default=local_role("SageMakerRole"),
                   help="SageMaker execution role the jobs and models run as")
    p.add_argument("--workflow-role-arn", default=local_role("sagepipe-workflows"),
                   help="role the state machine runs as")
    p.add_argument("--state-machine-arn",
                   help="run this existing state machine (the one the workflow's CloudFormation "
                        "stack created) instead of creating or updating one")
    p.add_argument("--name", default=name, help="state machine name")
    p.add_argument("--instance-type", default="ml.m5.large")
    p.add_argument("--region", default=os.environ.get("AWS_REGION")
                   or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    p.add_argument("--no-wait", dest="wait", action="store_false",
                   help="start the execution and return without following it")
    return p


def settings(args: argparse.Namespace) -> Settings:
    prefix = args.prefix.strip("/")
    if not prefix:
        raise SystemExit("--prefix must not be empty")
    return Settings(Place(args.bucket, prefix, args.role_arn, args.instance_type), args.name,
                    args.workflow_role_arn, args.state_machine_arn, args.region, args.wait)


def client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


def job_name(base: str) -> str:
    """A unique SageMaker job name (at most 50 characters: room for suffixes up to 63)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{base[:50 - len(stamp) - 1]}-{stamp}"


# -- S3 ----------------------------------------------------------------------------------------

def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    """Create the bucket if it does not exist (new buckets are private and encrypted)."""
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise
    location = {} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **location)


def put(s3: Any, uri: str, body: bytes) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return uri


def get(s3: Any, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def check_image(ecr: Any, uri: str, directory: str) -> None:
    """Stop early, with the fix, when an ECR image is missing (locally: not registered)."""
    match = ECR_IMAGE.fullmatch(uri)
    if match is None:
        return
    try:
        ecr.describe_images(registryId=match["account"], repositoryName=match["repository"],
                            imageIds=[{"imageTag": match["tag"]}])
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ImageNotFoundException",
                                               "RepositoryNotFoundException"):
            raise SystemExit(f"image {uri} is not in the registry: locally run `sagepipe image "
                             f"register {directory} --uri {uri}`; in AWS build {directory}/"
                             "Dockerfile and push it to ECR") from None
        # Another account's registry (a built-in algorithm image) may not let us look: go on.


def wait_for_endpoint(sm: Any, name: str) -> None:
    """Until the endpoint is InService (after a creation or an update), asking every 5 s:
    boto3's waiter asks every 30 s, longer than a local deployment takes."""
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name,
                                              WaiterConfig={"Delay": 5, "MaxAttempts": 360})


# -- the state machine and its execution -------------------------------------------------------

def deploy(workflow: Workflow, settings: Settings) -> Workflow:
    """The workflow on Step Functions: the stack's state machine when given, else created or
    brought up to date under the name in the settings."""
    sfn = client("stepfunctions", settings.region)
    if settings.state_machine_arn:
        attached = Workflow.attach(settings.state_machine_arn, client=sfn)
        attached.workflow_input = workflow.workflow_input  # execute() checks inputs against it
        return attached
    deployed = Workflow(settings.name, workflow.definition, settings.workflow_role_arn,
                        execution_input=workflow.workflow_input, client=sfn)
    deployed.create()
    deployed.update(definition=deployed.definition, role=settings.workflow_role_arn)
    print(f"state machine {deployed.state_machine_arn}")
    return deployed


def run(workflow: Workflow, inputs: dict[str, Any], settings: Settings,
        execution_name: str) -> Any:
    """Start an execution and, unless --no-wait, follow it: the states as they are entered,
    then the output (exit status 1 with the error and cause if it does not succeed)."""
    deployed = deploy(workflow, settings)
    execution = deployed.execute(name=execution_name, inputs=inputs)
    print(f"execution {execution.execution_arn}")
    if not settings.wait:
        return None
    described = follow(execution)
    rich.print(execution.render_progress())  # the graph, each state coloured by its outcome
    if described["status"] != "SUCCEEDED":
        print(f"{described['status']}: {described.get('error', '')}\n"
              f"{described.get('cause', '')}", file=sys.stderr)
        raise SystemExit(1)
    return json.loads(described.get("output") or "null")


def follow(execution: Execution, poll_seconds: float = 2.0) -> dict[str, Any]:
    """Print each state as the execution enters it; DescribeExecution once it has ended."""
    seen = 0
    while True:
        described = execution.describe()
        events = execution.list_events(max_items=25000)
        for event in events[seen:]:
            details = event.get("stateEnteredEventDetails")
            if details:
                print(f"  -> {details['name']}", flush=True)
        seen = len(events)
        if described["status"] in TERMINAL:
            return described
        time.sleep(poll_seconds)
