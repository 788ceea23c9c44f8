"""Service integrations: the TaskRunner that runs Task states against AWS (the local one)
through boto3 clients the caller provides.

- `arn:aws:states:::sagemaker:createTrainingJob.sync` (and ProcessingJob, TransformJob):
  create the job, poll Describe* until it ends; the output is the Describe* response. A Failed
  or Stopped job fails the task with `States.TaskFailed` and the Describe* JSON (with its
  FailureReason) as the cause; stopping the execution stops the job. Without `.sync`, and for
  createModel, createEndpointConfig, createEndpoint, updateEndpoint: the API's response.
- `arn:aws:states:::lambda:invoke` (+ `.waitForTaskToken`): Lambda's Invoke, output
  {ExecutedVersion, Payload, SdkHttpMetadata, SdkResponseMetadata, StatusCode}; a function
  error fails the task with the function's errorType (`Lambda.Unknown` when it has none) and
  its error payload as the cause. A bare function ARN invokes it with the state's input and
  outputs the payload.
- `arn:aws:states:::aws-sdk:<service>:<apiAction>`: any API of any service boto3 knows;
  errors are named `<Service>.<ErrorCode>Exception` as AWS composes them.
Anything else fails the task with States.Runtime naming the resource. Service errors keep
AWS's names: the caller's clients must be made with `Config(parameter_validation=False)`, or
botocore's client-side validation answers before the service does.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    UnknownServiceError,
)
from botocore.response import StreamingBody

from sagepipe.config import Settings
from sagepipe.stepfunctions.asl import TaskFailure, TaskRequest
from sagepipe.stepfunctions.asl.errors import RUNTIME, TASK_FAILED
from sagepipe.stepfunctions.asl.taskrunner import WAIT_FOR_TASK_TOKEN

SYNC = ".sync"
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
_FUNCTION_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[^:]+(:[^:]+)?")
_INTEGRATION = re.compile(r"arn:aws[a-z-]*:states:::(?P<service>[a-z0-9-]+):(?P<action>[^.]+)"
                          r"(?P<pattern>\.sync(:2)?|\.waitForTaskToken)?")


@dataclass(frozen=True)
class JobKind:
    """A SageMaker job with a `.sync` form: how to find, watch and stop it."""

    name_field: str
    describe: str
    stop: str
    status_field: str


SAGEMAKER_JOBS = {
    "createTrainingJob": JobKind("TrainingJobName", "describe_training_job",
                                 "stop_training_job", "TrainingJobStatus"),
    "createProcessingJob": JobKind("ProcessingJobName", "describe_processing_job",
                                   "stop_processing_job", "ProcessingJobStatus"),
    "createTransformJob": JobKind("TransformJobName", "describe_transform_job",
                                  "stop_transform_job", "TransformJobStatus"),
}
SAGEMAKER_ACTIONS = {*SAGEMAKER_JOBS, "createModel", "createEndpointConfig", "createEndpoint",
                     "updateEndpoint"}
# The optimized integrations name unmodeled service errors after the Java SDK's base class.
OPTIMIZED = {"sagemaker": ("SageMaker", "AmazonSageMakerException", "AmazonSageMaker"),
             "lambda": ("Lambda", "AWSLambdaException", "AWSLambda")}
# Step Functions' aws-sdk service names that differ from boto3's once '-' is removed.
SDK_ALIASES = {"sfn": "stepfunctions"}


@cache
def _botocore() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def boto3_service(name: str) -> str | None:
    """boto3's name for an aws-sdk integration's service (`sfn` -> `stepfunctions`)."""
    names = {n.replace("-", ""): n for n in _botocore().get_available_services()}
    return names.get(SDK_ALIASES.get(name, name))


def pascal_service_name(service_id: str) -> str:
    """`ACM PCA` -> `AcmPca`, `DynamoDB` -> `DynamoDb`, `S3` -> `S3`: the Java SDK's
    spelling, which Step Functions uses for aws-sdk error names."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", service_id)
    return "".join(w[0].upper() + w[1:].lower() for w in words)


def unsupported_reason(resource: str) -> str | None:
    """Why this Task Resource cannot run here (None: it can). Definition validation uses it
    so that an unknown integration is refused at create time, as AWS refuses it."""
    if _FUNCTION_ARN.fullmatch(resource):
        return None
    match = _INTEGRATION.fullmatch(resource)
    if match:
        service, action, pattern = match.group("service", "action", "pattern")
        supported = (
            (service == "sagemaker" and action in SAGEMAKER_ACTIONS
             and pattern in (None, SYNC if action in SAGEMAKER_JOBS else None))
            or (service == "lambda" and action == "invoke" and pattern in (None,
                                                                          WAIT_FOR_TASK_TOKEN))
            or (service == "aws-sdk" and pattern in (None, WAIT_FOR_TASK_TOKEN)
                and _sdk_operation(action) is not None))
        if supported:
            return None
    return (f"The resource provided {resource} is not recognized: the local Step Functions "
            "runs sagemaker:create{Training,Processing,Transform}Job[.sync], createModel, "
            "createEndpointConfig, createEndpoint, updateEndpoint, lambda:invoke, Lambda "
            "function ARNs and aws-sdk:<service>:<apiAction>")


def _sdk_operation(target: str) -> tuple[str, str] | None:
    """`s3:listBuckets` -> ('s3', 'ListBuckets') if boto3 knows both, else None."""
    service, _, action = target.partition(":")
    name = boto3_service(service)
    operation = action[:1].upper() + action[1:]
    try:
        known = name and operation in _botocore().get_service_model(name).operation_names
    except UnknownServiceError:
        known = False
    return (name, operation) if name and known else None


def local_clients(settings: Settings) -> Callable[[str], Any]:
    """`client(service)` for the integrations: boto3 clients of the local AWS of `settings`
    (signing with its home's credentials), made once per service, without client-side
    parameter validation (the service answers instead)."""
    credentials = settings.credentials
    session = boto3.session.Session(aws_access_key_id=credentials.access_key_id,
                                    aws_secret_access_key=credentials.secret_access_key,
                                    region_name=settings.region)
    config = Config(parameter_validation=False, retries={"max_attempts": 2}, read_timeout=120,
                    inject_host_prefix=False)
    made: dict[str, Any] = {}
    lock = threading.Lock()

    def client(service: str) -> Any:
        with lock:  # making a client from one session is not thread-safe
            if service not in made:
                made[service] = session.client(service, endpoint_url=settings.endpoint_url,
                                               config=config)
            return made[service]
    return client


class AwsIntegrations:
    """The TaskRunner of the local Step Functions. `client(service)` returns a boto3 client
    (made with `Config(parameter_validation=False)`); `poll_seconds` is how often a `.sync`
    task asks for its job's status."""

    def __init__(self, client: Callable[[str], Any], poll_seconds: float = 1.0) -> None:
        self._client = client
        self.poll_seconds = poll_seconds

    def run(self, request: TaskRequest) -> Any:
        resource = request.resource
        reason = unsupported_reason(resource)
        if reason:
            raise TaskFailure(RUNTIME, reason)
        if _FUNCTION_ARN.fullmatch(resource):
            return self._invoke(resource, {"FunctionName": resource,
                                           "Payload": request.parameters})["Payload"]
        match = _INTEGRATION.fullmatch(resource)
        assert match is not None
        service, action, pattern = match.group("service", "action", "pattern")
        parameters = _object(request.parameters, resource)
        if service == "lambda":
            return self._invoke(resource, parameters)
        if service == "sagemaker":
            if pattern == SYNC:
                return self._sync_job(SAGEMAKER_JOBS[action], action, parameters, request)
            return self._call("sagemaker", action, parameters)
        sdk_service, operation = _sdk_operation(action) or ("", "")
        return self._call(sdk_service, operation, parameters, sdk=True)

    def _call(self, service: str, action: str, parameters: dict, sdk: bool = False) -> Any:
        client = self._client(service)
        method = getattr(client, xform_name(action[:1].upper() + action[1:]))
        try:
            response = method(**parameters)
        except (ClientError, BotoCoreError) as error:
            raise service_error(client, error, sdk) from None
        return jsonable(response, iso_timestamps=sdk)

    def _invoke(self, resource: str, parameters: dict) -> dict[str, Any]:
        request = dict(parameters)
        if "Payload" in request:
            request["Payload"] = json.dumps(request["Payload"]).encode()
        client = self._client("lambda")
        try:
            response = client.invoke(**request)
        except (ClientError, BotoCoreError) as error:
            raise service_error(client, error, sdk=False) from None
        body = response["Payload"].read()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body.decode(errors="replace")
        if response.get("FunctionError"):
            error_type = payload.get("errorType") if isinstance(payload, dict) else None
            raise TaskFailure(error_type or "Lambda.Unknown", body.decode(errors="replace"))
        metadata = response.get("ResponseMetadata", {})
        result = {
            "ExecutedVersion": response.get("ExecutedVersion", "$LATEST"), "Payload": payload,
            "SdkHttpMetadata": {"HttpHeaders": metadata.get("HTTPHeaders", {}),
                                "HttpStatusCode": metadata.get("HTTPStatusCode")},
            "SdkResponseMetadata": {"RequestId": metadata.get("RequestId", "")},
            "StatusCode": response.get("StatusCode"),
        }
        return {**result, **({"LogResult": response["LogResult"]}
                             if "LogResult" in response else {})}

    def _sync_job(self, kind: JobKind, action: str, parameters: dict,
                  request: TaskRequest) -> Any:
        request.submitted(self._call("sagemaker", action, parameters))
        name = parameters.get(kind.name_field)
        client = self._client("sagemaker")
        while True:
            try:
                job = jsonable(getattr(client, kind.describe)(**{kind.name_field: name}))
            except (EndpointConnectionError, ConnectionClosedError):
                # The job's state is unknown, not failed: the local AWS is stopping (it then
                # stops this execution) or busy. The state's TimeoutSeconds still bounds this.
                job = {}
            except (ClientError, BotoCoreError) as error:
                raise service_error(client, error, sdk=False) from None
            status = job.get(kind.status_field)
            if status == "Completed":
                return job
            if status in TERMINAL_STATUSES:
                raise TaskFailure(TASK_FAILED, json.dumps(job, separators=(",", ":")))
            if request.cancelled.wait(self.poll_seconds):
                with suppress(ClientError, BotoCoreError):  # it may have ended meanwhile
                    getattr(client, kind.stop)(**{kind.name_field: name})
                return None


def _object(parameters: Any, resource: str) -> dict:
    if not isinstance(parameters, dict):
        raise TaskFailure(RUNTIME, f"The parameters of {resource} must be a JSON object, "
                          f"not {json.dumps(parameters)[:200]}")
    return parameters


def service_error(client: Any, error: Exception, sdk: bool) -> TaskFailure:
    """The TaskFailure AWS reports for a service's error, named as Step Functions names it:
    aws-sdk `<Service>.<Code>Exception`; an optimized integration (sagemaker, lambda) uses
    the Java SDK's class: the modeled exception, else its base (`AmazonSageMakerException`)."""
    model = client.meta.service_model
    if sdk:
        prefix = label = pascal_service_name(model.service_id)
        fallback = "SdkClientException"
    else:
        prefix, fallback, label = OPTIMIZED.get(model.service_name,
                                                (model.service_name, "ServiceException",
                                                 model.service_name))
    if not isinstance(error, ClientError):
        return TaskFailure(f"{prefix}.SdkClientException", str(error))
    info, metadata = error.response.get("Error", {}), error.response.get("ResponseMetadata", {})
    code = info.get("Code", "")
    exception = code if code.endswith("Exception") else code + "Exception"
    modeled = {shape.name for shape in model.error_shapes} & {code, exception}
    name = exception if code and (sdk or modeled) else fallback
    cause = (f"{info.get('Message', '')} (Service: {label}; Status Code: "
             f"{metadata.get('HTTPStatusCode')}; Error Code: {code}; Request ID: "
             f"{metadata.get('RequestId', '')})")
    return TaskFailure(f"{prefix}.{name}", cause)


def jsonable(value: Any, iso_timestamps: bool = False) -> Any:
    """A boto3 response as Step Functions passes it on: no ResponseMetadata; timestamps as
    epoch milliseconds (optimized integrations) or ISO 8601 (aws-sdk); blobs as text."""
    if isinstance(value, dict):
        return {k: jsonable(v, iso_timestamps) for k, v in value.items()
                if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [jsonable(v, iso_timestamps) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z") if iso_timestamps else \
            int(value.timestamp() * 1000)
    if isinstance(value, StreamingBody):
        value = value.read()
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return base64.b64encode(value).decode()
    return value
