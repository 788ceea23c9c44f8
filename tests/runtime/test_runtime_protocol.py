"""The SageMaker Runtime edge: REST-JSON errors for requests that never reach a model."""

from __future__ import annotations

import httpx
import pytest
from botocore.exceptions import ClientError
from testkit import signed_http

MAX_PAYLOAD = 6 * 1024 * 1024


def refused(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def signed(local_aws, method: str, path: str, body: bytes = b"") -> httpx.Response:
    """A raw request signed for SageMaker Runtime, as any SDK would sign it."""
    with signed_http(local_aws, "sagemaker") as http:
        return http.request(method, path, content=body)


def test_unknown_endpoint_is_a_validation_error(aws):
    answer = refused(aws("sagemaker-runtime").invoke_endpoint, EndpointName="no-such-endpoint",
                     Body=b"1,male,22", ContentType="text/csv")
    assert answer["Error"] == {"Code": "ValidationError", "Message":
                               "Endpoint no-such-endpoint of account 000000000000 not found."}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_payload_above_6_mb_is_refused_before_any_model_sees_it(aws):
    runtime = aws("sagemaker-runtime")
    answer = refused(runtime.invoke_endpoint, EndpointName="no-such-endpoint",
                     Body=b"x" * (MAX_PAYLOAD + 1), ContentType="text/csv")
    assert answer["Error"]["Code"] == "ValidationError"
    assert answer["Error"]["Message"].startswith("Request payload is too large")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 413
    # exactly 6 MB is within the limit: the answer is about the endpoint, not the size
    answer = refused(runtime.invoke_endpoint, EndpointName="no-such-endpoint",
                     Body=b"x" * MAX_PAYLOAD, ContentType="text/csv")
    assert answer["Error"]["Message"].endswith("not found.")


def test_operations_not_emulated_say_so(aws):
    answer = refused(aws("sagemaker-runtime").invoke_endpoint_async,
                     EndpointName="any", InputLocation="s3://bucket/input.csv")
    assert answer["Error"]["Code"] == "NotImplemented"
    assert "InvokeEndpointAsync" in answer["Error"]["Message"]
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 501


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/endpoints/any/invocations"),
    ("POST", "/endpoints/any/predict"),
    ("POST", "/invocations"),
])
def test_unknown_routes_get_a_clean_404(local_aws, method, path):
    reply = signed(local_aws, method, path, b"1,male,22" if method == "POST" else b"")
    assert reply.status_code == 404
    assert reply.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "POST /endpoints/{EndpointName}/invocations" in reply.json()["message"]
