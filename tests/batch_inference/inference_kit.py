"""The batch-inference stack on a local AWS of its own, as the pipeline deploys it: the example
model trained by real jobs, the prod endpoint from CloudFormation/endpoint.yaml (data capture
on: it counts the InvokeEndpoint calls), the functions' code packaged by `aws cloudformation
package` into the local S3, CloudFormation/batch-inference.yaml deployed through the local
CloudFormation. Lambda's retry waits are shortened (SAGEPIPE_LAMBDA_RETRY_DELAYS), hence the
local AWS of its own."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from serving_kit import BUCKET, ROLE, ensure_bucket, train
from testkit import MODEL_IMAGE_URI, REPO, TEST_DATA, client_for, free_port, register_image

from sagepipe.clients import local_env
from sagepipe.config import Settings
from sagepipe.server import start_background

AWS = Path(sys.executable).parent / "aws"
FAST = {"Delay": 1, "MaxAttempts": 300}
CAPTURE = f"s3://{BUCKET}/capture"
# What the tests deploy with: small batches and a small transform threshold, so that a file
# of a few thousand rows shows both.
ROWS_PER_REQUEST = 100
TRANSFORM_THRESHOLD_BYTES = 100_000


@dataclass(frozen=True)
class Deployed:
    """One batch-inference stack: its outputs and clients of its local AWS."""

    settings: Settings
    stack: str
    outputs: dict[str, str]
    endpoint: str

    def client(self, service: str) -> Any:
        return client_for(self.settings, service)

    @property
    def input_bucket(self) -> str:
        return self.outputs["InputBucketName"]

    @property
    def output_bucket(self) -> str:
        return self.outputs["OutputBucketName"]

    @property
    def function(self) -> str:
        return self.outputs["ScoringFunctionName"]

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        s3 = self.client("s3")
        s3.put_object(Bucket=self.input_bucket, Key=key, Body=body)
        return s3.head_object(Bucket=self.input_bucket, Key=key)

    def output(self, key: str, bound: float = 60) -> bytes:
        """The output object `key`, once it is there (the function writes it in the background)."""
        return wait_for(lambda: self.read(key), f"s3://{self.output_bucket}/{key}", bound)

    def read(self, key: str) -> bytes | None:
        try:
            return self.client("s3").get_object(Bucket=self.output_bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchKey":
                raise
            return None

    def log_lines(self, function: str, pattern: str = "") -> list[str]:
        logs = self.client("logs")
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{function}", filterPattern=pattern)
        return [event["message"] for page in pages for event in page["events"]]


def wait_for(read: Callable[[], Any], what: str, bound: float = 60) -> Any:
    deadline = time.monotonic() + bound
    while (found := read()) is None:
        assert time.monotonic() < deadline, f"{what} never appeared"
        time.sleep(0.1)
    return found


def rows_of(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


def start(home: Path) -> Settings:
    settings = Settings(home=home, port=free_port())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAGEPIPE_LAMBDA_RETRY_DELAYS", "0.2,0.2")
        start_background(settings)
    register_image(settings, REPO / "model", MODEL_IMAGE_URI)
    return settings


def create_stack(settings: Settings, stack: str, body: str, capabilities: list[str],
                 **parameters: str) -> dict[str, str]:
    """The stack created through the local CloudFormation API; its outputs."""
    cfn = client_for(settings, "cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=body, Capabilities=capabilities,
                     Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                 for k, v in parameters.items()])
    try:
        cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig=FAST)
    except Exception:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        raise AssertionError(json.dumps([(e["LogicalResourceId"], e["ResourceStatus"],
                                          e.get("ResourceStatusReason")) for e in events],
                                        indent=1)) from None
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def prod_endpoint(settings: Settings, workdir: Path, project: str) -> str:
    """The example model trained by real jobs and served by endpoint.yaml as prod."""
    training = train(settings, TEST_DATA / "titanic_train.csv", workdir)
    outputs = create_stack(
        settings, f"{project}-endpoint-prod",
        (REPO / "CloudFormation" / "endpoint.yaml").read_text(), [],
        ProjectName=project, StageName="prod", ImageUri=MODEL_IMAGE_URI,
        ModelDataUrl=training["ModelDataUrl"], ExecutionRoleArn=ROLE,
        DataCaptureEnabled="true", DataCaptureS3Uri=CAPTURE)
    return outputs["EndpointName"]


def packaged(settings: Settings, workdir: Path) -> str:
    """The template with its functions' code uploaded, as the PackageApi build makes it."""
    out = workdir / "batch-inference.packaged.yaml"
    ensure_bucket(settings)
    done = subprocess.run(
        [str(AWS), "cloudformation", "package",
         "--template-file", str(REPO / "CloudFormation" / "batch-inference.yaml"),
         "--s3-bucket", BUCKET, "--s3-prefix", "batch-inference",
         "--output-template-file", str(out)],
        env={**os.environ, **local_env(settings)}, capture_output=True, text=True,
        timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out.read_text()


def deploy(settings: Settings, template: str, project: str, endpoint: str) -> Deployed:
    stack = f"{project}-batch-inference"
    outputs = create_stack(settings, stack, template, ["CAPABILITY_IAM"],
                           ProjectName=project, EndpointName=endpoint, SageMakerRoleArn=ROLE,
                           RowsPerRequest=str(ROWS_PER_REQUEST), ConcurrentRequests="2",
                           FunctionTimeoutSeconds="60",
                           TransformThresholdBytes=str(TRANSFORM_THRESHOLD_BYTES))
    return Deployed(settings, stack, outputs, endpoint)


def capture_bodies(settings: Settings) -> list[str]:
    """The request bodies the endpoint's data capture has recorded so far."""
    s3 = client_for(settings, "s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="capture/")
    bodies = []
    for page in pages:
        for item in page.get("Contents", []):
            text = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
            bodies += [json.loads(line)["captureData"]["endpointInput"]["data"]
                       for line in text.splitlines() if line.strip()]
    return bodies


def s3_event(deployed: Deployed, key: str, head: dict[str, Any], sequencer: str) -> dict:
    """An ObjectCreated event of `key` shaped as S3 sends it (what a redelivery carries)."""
    from urllib.parse import quote_plus
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": deployed.input_bucket},
               "object": {"key": quote_plus(key, safe="/"), "size": head["ContentLength"],
                          "eTag": head["ETag"].strip('"'), "versionId": head["VersionId"],
                          "sequencer": sequencer}}}]}
