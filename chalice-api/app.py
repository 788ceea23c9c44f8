"""The prediction API in front of the prod SageMaker endpoint (IAM auth on every route).

POST /predict validates `{"records": [...]}`, calls InvokeEndpoint with the records as the
model's JSON `{"instances": [...]}` and answers its predictions; GET /health says whether the
endpoint is InService. The endpoint name comes from ENDPOINT_NAME, which the API's stack sets
from the prod endpoint stack's output; boto3 takes the region (and, locally, the endpoint URL)
from the environment. Errors are JSON `{"Code", "Message"}`: 4xx for the caller's mistakes,
502 when the model fails, 503/504 when the endpoint cannot answer; never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from chalice import Chalice, IAMAuthorizer
from chalicelib.errors import BadGatewayError, GatewayTimeoutError, ServiceUnavailableError
from chalicelib.records import parse_records

app = Chalice(app_name="sagepipe-api")
iam = IAMAuthorizer()

JSON = "application/json"
# API Gateway gives up after 29 s: two attempts of at most 2 s to connect and 10 s to answer.
AWS_CONFIG = Config(connect_timeout=2, read_timeout=10,
                    retries={"mode": "standard", "total_max_attempts": 2})
# Errors meaning the endpoint cannot serve now (missing, not InService, overloaded).
UNAVAILABLE = {"ValidationError", "ValidationException", "ModelNotReadyException",
               "ServiceUnavailable", "ThrottlingException", "InternalFailure",
               "InternalDependencyException"}


@functools.cache
def aws(service: str) -> Any:
    """One client per service for the life of the function, made on first use."""
    return boto3.client(service, config=AWS_CONFIG)


def endpoint_name() -> str:
    name = os.environ.get("ENDPOINT_NAME", "")
    if not name:
        raise ServiceUnavailableError("the API is not configured: ENDPOINT_NAME is not set "
                                      "(its stack sets it to the prod endpoint's name)")
    return name


def endpoint_failure(name: str, exc: Exception) -> Exception:
    """The HTTP error for a failed call to endpoint `name`, logged with its cause."""
    app.log.warning("call to endpoint %s failed: %r", name, exc)
    if isinstance(exc, ReadTimeoutError):
        return GatewayTimeoutError(f"endpoint {name} did not answer in time; retry later")
    if isinstance(exc, BotoCoreError):
        return ServiceUnavailableError(f"endpoint {name} is unreachable: {exc}")
    response: dict[str, Any] = exc.response if isinstance(exc, ClientError) else {}
    error = response.get("Error", {})
    code, message = error.get("Code", "Unknown"), error.get("Message", str(exc))
    if code == "ModelError":
        original = response.get("OriginalStatusCode", "?")
        return BadGatewayError(f"the model behind endpoint {name} failed (status {original}): "
                               f"{response.get('OriginalMessage', message)}")
    if code in UNAVAILABLE:
        return ServiceUnavailableError(f"endpoint {name} is unavailable: {message}")
    return BadGatewayError(f"endpoint {name} refused the call: {code}: {message}")


def predictions_of(name: str, body: bytes, count: int) -> dict[str, Any]:
    """The model's answer, checked to hold one prediction per record."""
    try:
        answer = json.loads(body)
        predictions = [{"survived": int(p["survived"]), "probability": float(p["probability"])}
                       for p in answer["predictions"]]
        version = str(answer["model_version"])
    except (ValueError, TypeError, KeyError) as exc:
        raise BadGatewayError(f"endpoint {name} answered in an unexpected form: {exc!r}") \
            from None
    if len(predictions) != count:
        raise BadGatewayError(f"endpoint {name} answered {len(predictions)} predictions for "
                              f"{count} records")
    return {"predictions": predictions, "model_version": version}


def raw_body() -> bytes:
    """The current request's body (chalice types it loosely; it holds bytes in a route)."""
    request = app.current_request
    if request is None:
        raise RuntimeError("raw_body() is called from a route, during a request")
    body = request.raw_body
    return body.encode() if isinstance(body, str) else body


@app.route("/predict", methods=["POST"], authorizer=iam)
def predict() -> dict[str, Any]:
    records = parse_records(raw_body())
    name = endpoint_name()
    try:
        reply = aws("sagemaker-runtime").invoke_endpoint(
            EndpointName=name, ContentType=JSON, Accept=JSON,
            Body=json.dumps({"instances": records}))
        body = reply["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        raise endpoint_failure(name, exc) from None
    return {**predictions_of(name, body, len(records)), "endpoint": name}


@app.route("/health", methods=["GET"], authorizer=iam)
def health() -> dict[str, Any]:
    """200 only when a call would be served: an endpoint stays InService while SageMaker replaces
    a failed instance, so the variants' instance counts decide, not the endpoint's status."""
    name = endpoint_name()
    try:
        described = aws("sagemaker").describe_endpoint(EndpointName=name)
    except (BotoCoreError, ClientError) as exc:
        raise endpoint_failure(name, exc) from None
    status = described["EndpointStatus"]
    if status != "InService":
        raise ServiceUnavailableError(f"endpoint {name} is {status}, not InService")
    variants = described.get("ProductionVariants", [])
    # A serverless variant has no instance count: it serves whenever the endpoint is InService.
    serving = [v for v in variants
               if v.get("CurrentInstanceCount", 1) > 0 and v.get("CurrentWeight", 1) > 0]
    if variants and not serving:
        raise ServiceUnavailableError(
            f"endpoint {name} is InService but no production variant has an instance serving: "
            + "; ".join(f"{v['VariantName']}: {outage(v)}" for v in variants))
    return {"status": "ok", "endpoint": name, "endpoint_status": status,
            "serving_variants": [v["VariantName"] for v in serving]}


def outage(variant: dict[str, Any]) -> str:
    """What DescribeEndpoint says about a variant without a serving instance."""
    messages = [s.get("StatusMessage") or s["Status"] for s in variant.get("VariantStatus", [])]
    return "; ".join(messages) or f"{variant.get('CurrentInstanceCount', 0)} instances in service"
