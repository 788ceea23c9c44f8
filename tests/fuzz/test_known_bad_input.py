"""The bad input issue 12 found outside S3 (S3's own are in tests/s3/test_bad_input.py), each
pinned: SageMaker List* NextToken and time filters, a training channel named `..`, and
InvokeEndpoint headers with surrounding whitespace and large bodies the model refuses unread
(serving_kit's session endpoint serves the example model)."""

from __future__ import annotations

import http.client
import json

import httpx
import pytest
from botocore.exceptions import ClientError
from testkit import MODEL_IMAGE_URI

from sagepipe.clients import SigV4, client
from sagepipe.sigv4 import sign

pytest_plugins = ["serving_kit"]


def list_jobs(settings, body: str) -> httpx.Response:
    return httpx.post(f"{settings.endpoint_url}/", content=body, auth=SigV4(settings,
                                                                            "sagemaker"),
                      headers={"Content-Type": "application/x-amz-json-1.1",
                               "X-Amz-Target": "SageMaker.ListTrainingJobs"}, trust_env=False)


@pytest.mark.parametrize("token", ["²", "9" * 5000, "-1", "1e5", " 1"])
def test_list_next_token_that_is_not_ours_is_a_validation_error(local_aws, token):
    reply = list_jobs(local_aws, json.dumps({"NextToken": token}))
    assert reply.status_code == 400
    assert reply.json()["__type"] == "ValidationException"


@pytest.mark.parametrize("value, status", [('"2024-01-01T00:00:00Z"', 200), ('"2024-01-01"', 200),
                                           ("1e308", 400), ('"soon"', 400)])
def test_list_creation_time_filters(local_aws, value, status):
    assert list_jobs(local_aws, f'{{"CreationTimeAfter": {value}}}').status_code == status


@pytest.mark.parametrize("channel", ["..", "."])
def test_a_channel_named_dot_dot_is_refused(local_aws, channel):
    sm = client(local_aws, "sagemaker")
    name = f"dotdot-{len(channel)}"
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(
            TrainingJobName=name, RoleArn="arn:aws:iam::000000000000:role/x",
            AlgorithmSpecification={"TrainingImage": MODEL_IMAGE_URI, "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": "s3://nowhere/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1,
                            "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
            InputDataConfig=[{"ChannelName": channel, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://nowhere/config"}}}])
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException" and "channel" in error["Message"]
    assert name not in [j["TrainingJobName"] for j in
                        sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]]


def invoke_raw(settings, endpoint_name: str, body: bytes, content_type: str,
               accept: str = "text/csv") -> tuple[int, dict]:
    """InvokeEndpoint on a raw connection, signed as botocore signs it: header values are sent
    exactly as given (an HTTP library would refuse or trim the whitespace around them)."""
    path = f"/endpoints/{endpoint_name}/invocations"
    credentials = settings.credentials
    headers = sign("POST", settings.endpoint_url + path, body, credentials.access_key_id,
                   credentials.secret_access_key, settings.region,
                   {"Content-Type": content_type.strip(), "Accept": accept},
                   service="sagemaker")
    headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection("127.0.0.1", settings.port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers=headers)
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read() or b"{}") if reply.status >= 300 else {}
    finally:
        connection.close()


@pytest.mark.parametrize("content_type", ["text/csv ", " text/csv", "\ttext/csv\t"])
def test_content_type_with_whitespace_around_it(images, model_endpoint, content_type):
    status, _ = invoke_raw(images, model_endpoint, b"1,female,29\n", content_type)
    assert status == 200


@pytest.mark.parametrize(("content_type", "accept", "refused_with"), [
    ("text/plain", "text/csv", 415), ("text/csv", "application/xml", 406)])
def test_large_bodies_the_model_refuses_unread_get_its_answer(images, model_endpoint,
                                                             content_type, accept, refused_with):
    """The model answers 415 (a body type it does not take) or 406 (an answer type it cannot
    give) before reading the body: InvokeEndpoint says so (ModelError, 424, with the model's
    status), every time, not 503."""
    for size in (1024 * 1024, 3 * 1024 * 1024, 6 * 1024 * 1024 - 1):
        for _ in range(3):
            status, error = invoke_raw(images, model_endpoint, b"x" * size, content_type,
                                       accept)
            assert status == 424, (size, status, error)
            assert error["OriginalStatusCode"] == refused_with
