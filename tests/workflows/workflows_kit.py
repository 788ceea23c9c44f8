"""Helpers for the workflow tests: the workflows built with test settings, run by the local
Step Functions' interpreter (its public `Execution` API) against `Cloud`, a deterministic task
runner: SageMaker jobs end as each test scripts them, with Describe* documents built from the
request as SageMaker builds them, and Lambda tasks call the workflows' real handlers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import Stubber

from sagepipe.stepfunctions.asl import (
    Clock,
    Execution,
    ExecutionInfo,
    Outcome,
    TaskFailure,
    TaskRequest,
    parse_definition,
)
from sagepipe.stepfunctions.integrations import jsonable, unsupported_reason
from workflows import aws

ACCOUNT = "000000000000"
PLACE = aws.Place("wf-bucket", "wf", f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole")
XGBOOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/sagepipe-xgboost:test"
TITANIC = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/sagepipe-model:test"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TASK_FAILED = "States.TaskFailed"


class RecordingClock(Clock):
    """Time that passes only by the waits asked of it (retries), recorded, never slept."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return START + timedelta(seconds=sum(self.sleeps))

    def sleep(self, seconds: float, cancel: Any) -> None:
        cancel.check()
        self.sleeps.append(seconds)


def definition(workflow: Any) -> dict[str, Any]:
    return workflow.definition.to_dict()


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:{kind}/{name.lower()}"


def training_job(request: dict[str, Any], metrics: dict[str, float],
                 failure: str | None = None) -> dict[str, Any]:
    """DescribeTrainingJob's response (boto3 types) for a job created with `request`."""
    name = request["TrainingJobName"]
    job = {
        "TrainingJobName": name, "TrainingJobArn": arn("training-job", name),
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


def lambda_failure(error: Exception) -> TaskFailure:
    """A function's exception as Step Functions reports it: its type, its error payload."""
    return TaskFailure(type(error).__name__, json.dumps(
        {"errorMessage": str(error), "errorType": type(error).__name__}))


def stubbed_describe(job: dict[str, Any]) -> Any:
    """A real SageMaker client answering DescribeTrainingJob with `job` (checked against
    botocore's model of the response)."""
    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response("describe_training_job", job,
                         {"TrainingJobName": job["TrainingJobName"]})
    stubber.activate()
    return client


class Cloud:
    """The task runner. `metrics` gives each training job's final metrics (by job name, or
    for every job under the key "*"); a job named in `failures` fails with that reason;
    `endpoints` exist already; `functions` maps a Lambda FunctionName to a Python callable
    taking the payload (an exception it raises is the function's error)."""

    def __init__(self, metrics: dict[str, dict[str, float]] | None = None,
                 failures: dict[str, str] | None = None, endpoints: tuple[str, ...] = (),
                 functions: dict[str, Callable[[dict], Any]] | None = None,
                 jobs: dict[str, dict[str, Any]] | None = None) -> None:
        self.metrics = metrics or {}
        self.failures = failures or {}
        self.endpoints = set(endpoints)
        self.functions = functions or {}
        self.jobs: dict[str, dict[str, Any]] = dict(jobs or {})  # training jobs, boto3 types
        self.requests: list[TaskRequest] = []

    def called(self, resource_suffix: str) -> list[dict[str, Any]]:
        """The resolved parameters of every task whose Resource ends with the suffix."""
        return [r.parameters for r in self.requests if r.resource.endswith(resource_suffix)]

    def run(self, request: TaskRequest) -> Any:
        self.requests.append(request)
        action = request.resource.removeprefix("arn:aws:states:::")
        params = request.parameters
        if action == "lambda:invoke":
            try:
                payload = self.functions[params["FunctionName"]](params["Payload"])
            except Exception as error:
                raise lambda_failure(error) from None
            return {"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}
        if action == "sagemaker:createTrainingJob.sync":
            name = params["TrainingJobName"]
            job = training_job(params, self.metrics.get(name, self.metrics.get("*", {})),
                               self.failures.get(name))
            self.jobs[name] = job
            return self._ended(job)
        if action in ("sagemaker:createProcessingJob.sync", "sagemaker:createTransformJob.sync"):
            kind = "Processing" if "Processing" in action else "Transform"
            name = params[f"{kind}JobName"]
            failure = self.failures.get(name)
            return self._ended({**params, f"{kind}JobArn": arn(f"{kind.lower()}-job", name),
                                f"{kind}JobStatus": "Failed" if failure else "Completed",
                                **({"FailureReason": failure} if failure else {}),
                                "CreationTime": START})
        if action == "aws-sdk:sagemaker:describeTrainingJob":
            name = params["TrainingJobName"]
            if name not in self.jobs:
                raise TaskFailure("SageMaker.ResourceNotFoundException",
                                  f"Requested resource not found: {name}")
            return jsonable(self.jobs[name], iso_timestamps=True)
        if action == "aws-sdk:sagemaker:describeEndpoint":
            if params["EndpointName"] not in self.endpoints:
                raise TaskFailure("SageMaker.SageMakerException",
                                  f"Could not find endpoint \"{params['EndpointName']}\".")
            return {"EndpointName": params["EndpointName"], "EndpointStatus": "InService"}
        if action in ("sagemaker:createEndpoint", "sagemaker:updateEndpoint"):
            self.endpoints.add(params["EndpointName"])
            return {"EndpointArn": arn("endpoint", params["EndpointName"])}
        if action == "sagemaker:createModel":
            return {"ModelArn": arn("model", params["ModelName"])}
        if action == "sagemaker:createEndpointConfig":
            return {"EndpointConfigArn": arn("endpoint-config", params["EndpointConfigName"])}
        raise AssertionError(f"the test cloud has no {request.resource}")

    @staticmethod
    def _ended(job: dict[str, Any]) -> Any:
        """A .sync task's result: the Describe* document, or its failure as AWS reports it."""
        document = jsonable(job)
        if "FailureReason" in job:
            raise TaskFailure(TASK_FAILED, json.dumps(document, separators=(",", ":")))
        return document


def execute(workflow: Any, execution_input: dict[str, Any], cloud: Cloud,
            clock: Clock | None = None) -> tuple[Outcome, list[dict[str, Any]]]:
    """Run the workflow's definition to its end in this thread: the outcome and the history."""
    events: list[dict[str, Any]] = []
    machine = parse_definition(json.dumps(definition(workflow)), unsupported_reason)
    info = ExecutionInfo(
        execution_arn=f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{workflow.name}:run",
        name="run", state_machine_arn=f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:"
                                      f"{workflow.name}",
        state_machine_name=workflow.name, role_arn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
        start_time=START)
    execution = Execution(machine, execution_input, info, cloud, events.append,
                          clock=clock or RecordingClock())
    return execution.run(), events


def entered(events: list[dict[str, Any]]) -> list[str]:
    """The states entered, in order (Map iterations included)."""
    return [e["stateEnteredEventDetails"]["name"] for e in events
            if "stateEnteredEventDetails" in e]
