"""Helpers for the workflow tests.

`LocalWorkflows` runs the workflows for real on the session's local AWS (tests/conftest.py
`local_aws`), as a user runs them: `python -m workflows.<name>` in a subprocess whose environment
is `sagepipe env`'s, the images registered as `sagepipe image register` registers them, each
workflow's CloudFormation stack deployed from workflows/templates/. The executions are then read
back through the Step Functions API, the jobs through SageMaker's, the data through S3's.

The offline tests (definitions, templates, Lambda handlers, module arguments) use the constants
and the Stubber helpers at the end.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import Stubber
from testkit import REPO, LocalStacks, client_for, unique

from sagepipe.clients import internal, local_env
from sagepipe.cloudformation.template import load
from sagepipe.config import Settings
from workflows import aws, export, functions

ACCOUNT = "000000000000"
SAGEMAKER_ROLE = aws.local_role("SageMakerRole")
# The images the modules use by default, registered in the local registry (conftest.py).
IMAGES = {aws.local_image("sagepipe-model"): REPO / "model",
          aws.local_image("sagepipe-xgboost"): REPO / "workflows" / "images" / "xgboost"}
STACK_IMAGES = {"TitanicImageUri": aws.local_image("sagepipe-model"),
                "XGBoostImageUri": aws.local_image("sagepipe-xgboost")}
EXECUTION = re.compile(r"^execution (arn:\S+)$", re.MULTILINE)



@dataclass(frozen=True)
class Run:
    """A finished `python -m workflows.<name>`: its exit status, what it printed, and the
    execution it started (None if it stopped before starting one)."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def execution_arn(self) -> str:
        found = EXECUTION.search(self.stdout)
        assert found, f"no execution started:\n{self.stdout}\n{self.stderr}"
        return found[1]

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class LocalWorkflows:
    """The workflows against one local AWS, with their data in one bucket of their own."""

    settings: Settings
    bucket: str
    _stacks: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return client_for(self.settings, service)

    def register_images(self) -> None:
        """What `sagepipe image register DIR --uri URI` does, for the modules' default URIs."""
        for uri, directory in IMAGES.items():
            internal(self.settings, "PUT", "images", {"uri": uri, "directory": str(directory)})

    def run(self, module: str, *args: str) -> Run:
        """`python -m workflows.<module> --bucket <ours> ARGS`, from the repository root, with
        the local AWS's environment (what `eval "$(sagepipe env)"` exports)."""
        env = {**os.environ, **local_env(self.settings)}
        done = subprocess.run([sys.executable, "-m", f"workflows.{module}", "--bucket",
                               self.bucket, *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=900, check=False)
        return Run(done.returncode, done.stdout, done.stderr)

    def stack(self, name: str) -> str:
        """The state machine ARN of workflows/templates/<name>.yaml deployed as a stack (once
        per session) through the local CloudFormation API, as `aws cloudformation deploy` does
        it: its parameters are this bucket, the local SageMaker role and images; the functions'
        code is the package `python -m workflows.functions` writes, in S3."""
        if name not in self._stacks:
            path = export.TEMPLATES / f"{name}.yaml"
            declared = load(path)["Parameters"]
            offered = {"Bucket": self.bucket, "SageMakerRoleArn": SAGEMAKER_ROLE,
                       "LambdaCodeBucket": self.bucket, **STACK_IMAGES}
            parameters = {k: v for k, v in offered.items() if k in declared}
            if "LambdaCodeBucket" in parameters:
                key = declared[functions.CODE_KEY.name]["Default"]
                self.client("s3").put_object(Bucket=self.bucket, Key=key,
                                             Body=functions.package())
            outputs = LocalStacks(self.settings).deploy(
                unique(f"wf-{name.replace('_', '-')}"), path.read_text(), parameters)
            self._stacks[name] = outputs["StateMachineArn"]
        return self._stacks[name]

    def finished(self, execution_arn: str, timeout: float = 600) -> tuple[dict, list[dict]]:
        """DescribeExecution once the execution has ended, and its history (a bounded wait)."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while (described := sfn.describe_execution(executionArn=execution_arn))[
                "status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{execution_arn} still RUNNING"
            time.sleep(0.5)
        return described, history(sfn, execution_arn)

    def text(self, uri: str) -> str:
        return aws.get(self.client("s3"), uri).decode()

    def keys(self, uri: str) -> list[str]:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                             Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def metrics(self, training_job: str) -> dict[str, float]:
        job = self.client("sagemaker").describe_training_job(TrainingJobName=training_job)
        return {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}


def history(sfn: Any, execution_arn: str) -> list[dict]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def entered(events: list[dict[str, Any]]) -> list[str]:
    """The states entered, in order (Map iterations included)."""
    return [e["stateEnteredEventDetails"]["name"] for e in events
            if "stateEnteredEventDetails" in e]


def scheduled(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parameters of every task scheduled, in order."""
    return [json.loads(e["taskScheduledEventDetails"]["parameters"]) for e in events
            if e["type"] == "TaskScheduled"]


def output(described: dict[str, Any]) -> Any:
    return json.loads(described["output"])


# -- offline: definitions built with test settings, and DescribeTrainingJob documents -----------

PLACE = aws.Place("wf-bucket", "wf", f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole")
XGBOOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/sagepipe-xgboost:test"
TITANIC = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/sagepipe-model:test"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def definition(workflow: Any) -> dict[str, Any]:
    return workflow.definition.to_dict()


def training_job(request: dict[str, Any], metrics: dict[str, float],
                 failure: str | None = None) -> dict[str, Any]:
    """DescribeTrainingJob's response (boto3 types) for a job created with `request`, for a
    Stubber (which checks it against botocore's model)."""
    name = request["TrainingJobName"]
    job = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/{name.lower()}",
        "ModelArtifacts": {"S3ModelArtifacts":
                           f"{request['OutputDataConfig']['S3OutputPath']}/{name}/output/"
                           "model.tar.gz"},
        "TrainingJobStatus": "Failed" if failure else "Completed",
        "SecondaryStatus": "Failed" if failure else "Completed",
        "HyperParameters": request.get("HyperParameters", {}),
        "AlgorithmSpecification": request["AlgorithmSpecification"],
        "RoleArn": request["RoleArn"], "OutputDataConfig": request["OutputDataConfig"],
        "ResourceConfig": request["ResourceConfig"],
        "StoppingCondition": request["StoppingCondition"],
        "CreationTime": START, "TrainingStartTime": START,
        "TrainingEndTime": START + timedelta(minutes=2),
        "FinalMetricDataList": [{"MetricName": n, "Value": v, "Timestamp": START}
                                for n, v in metrics.items()],
    }
    if request.get("InputDataConfig"):
        job["InputDataConfig"] = request["InputDataConfig"]
    if failure:
        job["FailureReason"] = failure
    return job


def stubbed_describe(job: dict[str, Any]) -> Any:
    """A real SageMaker client answering DescribeTrainingJob with `job` (checked against
    botocore's model of the response)."""
    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response("describe_training_job", job,
                         {"TrainingJobName": job["TrainingJobName"]})
    stubber.activate()
    return client
