"""The AWS calls of the prediction API (chalice-api/app.py) and of the QA tests
(qa-tests/qa_kit.py). InvokeEndpoint and DescribeEndpoint parameter for parameter: botocore
validates them against the SageMaker Runtime and SageMaker API models, then the Stubber compares
them and answers as the services do (a ModelError with its modeled fields included). The QA
tests' reading of the held-out split from S3 runs against moto's S3."""

from __future__ import annotations

import importlib
import io
import json
import re
from datetime import UTC, datetime
from types import ModuleType

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from chalice.test import Client
from moto import mock_aws

from .deploy_kit import ACCOUNT, BUCKET, REGION, REPO

ENDPOINT = "sagepipe-prod"
JSON = "application/json"
RECORDS = [{"Pclass": 1, "Sex": "female", "Age": 29}, {"Pclass": 3, "Sex": "male"}]
# What the model is sent: every record with its three fields, an unknown Age as null.
INSTANCES = '{"instances": [{"Pclass": 1, "Sex": "female", "Age": 29}, ' \
            '{"Pclass": 3, "Sex": "male", "Age": null}]}'
ANSWER = {"predictions": [{"survived": 1, "probability": 0.93},
                          {"survived": 0, "probability": 0.11}], "model_version": "c0ffee1"}

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")


def body(document: dict) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def module(directory: str, name: str, monkeypatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(REPO / directory))
    return importlib.import_module(name)


@pytest.fixture
def stubbed(monkeypatch):
    """service -> Stubber of a real client; the API's `aws(service)` hands those clients out."""
    clients = {service: boto3.client(service, region_name=REGION)
               for service in ("sagemaker-runtime", "sagemaker")}
    stubbers = {service: Stubber(c) for service, c in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers, clients.__getitem__
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


@pytest.fixture
def api(stubbed, monkeypatch) -> tuple[dict[str, Stubber], Client]:
    app = module("chalice-api", "app", monkeypatch)
    stubbers, client_of = stubbed
    monkeypatch.setattr(app, "aws", client_of)
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    return stubbers, Client(app.app, stage_name="prod", project_dir=str(REPO / "chalice-api"))


def predict(client: Client):
    return client.http.post("/predict", headers={"Content-Type": JSON},
                            body=json.dumps({"records": RECORDS}).encode())


def test_predict_invokes_the_endpoint_with_the_records_as_instances(api):
    stubbers, client = api
    stubbers["sagemaker-runtime"].add_response(
        "invoke_endpoint",
        {"Body": body(ANSWER), "ContentType": JSON, "InvokedProductionVariant": "AllTraffic"},
        {"EndpointName": ENDPOINT, "ContentType": JSON, "Accept": JSON, "Body": INSTANCES})
    response = predict(client)
    assert response.status_code == 200
    assert json.loads(response.body) == {**ANSWER, "endpoint": ENDPOINT}


def test_a_model_error_is_a_bad_gateway_naming_the_models_status(api):
    stubbers, client = api
    stubbers["sagemaker-runtime"].add_client_error(
        "invoke_endpoint", service_error_code="ModelError", http_status_code=424,
        service_message="Received server error (500) from primary",
        modeled_fields={"OriginalStatusCode": 500, "OriginalMessage": "predict() failed",
                        "LogStreamArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
                                        f"/aws/sagemaker/Endpoints/{ENDPOINT}"},
        expected_params={"EndpointName": ENDPOINT, "ContentType": JSON, "Accept": JSON,
                         "Body": INSTANCES})
    response = predict(client)
    assert response.status_code == 502
    assert json.loads(response.body) == {
        "Code": "BadGatewayError",
        "Message": f"the model behind endpoint {ENDPOINT} failed (status 500): predict() failed"}


@pytest.mark.parametrize("endpoint_status, http_status", [("InService", 200), ("Updating", 503)])
def test_health_describes_the_endpoint(api, endpoint_status: str, http_status: int):
    stubbers, client = api
    now = datetime(2026, 1, 1, tzinfo=UTC)
    stubbers["sagemaker"].add_response(
        "describe_endpoint",
        {"EndpointName": ENDPOINT, "EndpointStatus": endpoint_status,
         "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}",
         "CreationTime": now, "LastModifiedTime": now},
        {"EndpointName": ENDPOINT})
    response = client.http.get("/health")
    assert response.status_code == http_status


def test_qa_tests_invoke_the_endpoint_with_json_instances(stubbed, monkeypatch):
    qa_kit = module("qa-tests", "qa_kit", monkeypatch)
    stubbers, client_of = stubbed
    stubbers["sagemaker-runtime"].add_response(
        "invoke_endpoint", {"Body": body(ANSWER), "ContentType": JSON},
        {"EndpointName": "sagepipe-qa", "ContentType": JSON, "Accept": JSON,
         "Body": INSTANCES})
    metrics = qa_kit.Metrics()
    instances = [{"Pclass": 1, "Sex": "female", "Age": 29}, {"Pclass": 3, "Sex": "male",
                                                              "Age": None}]
    assert metrics.invoke(client_of("sagemaker-runtime"), "sagepipe-qa", instances) == ANSWER
    assert (len(metrics.latencies_ms), metrics.errors) == (1, [])


def test_qa_tests_read_every_csv_of_the_test_split_from_s3(monkeypatch):
    qa_kit = module("qa-tests", "qa_kit", monkeypatch)
    prefix = "sagepipe/c0ffee1/data/prepared/test"
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        header = "Survived,Pclass,Sex,Age\n"
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/part-0.csv", Body=header + "1,1,female,29\n")
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/part-1.csv", Body=header + "0,3,male,\n")
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/_SUCCESS", Body=b"")
        passengers = qa_kit.load_test_split(f"s3://{BUCKET}/{prefix}/")
    assert passengers == [qa_kit.Passenger(1, 1, "female", 29.0),
                          qa_kit.Passenger(0, 3, "male", None)]


class Recorded:
    """What urllib was asked to send, answered with a 200 JSON body (the network boundary)."""

    def __init__(self) -> None:
        self.requests: list = []

    def urlopen(self, request, timeout: float):
        self.requests.append(request)
        return _Reply(b'{"predictions": []}')


class _Reply(io.BytesIO):
    status = 200


def test_smoke_tests_sign_api_calls_for_its_region_with_the_credentials_chain(monkeypatch):
    qa_kit = module("qa-tests", "qa_kit", monkeypatch)
    for key, value in {"AWS_ACCESS_KEY_ID": "AKIDSMOKETEST", "AWS_SECRET_ACCESS_KEY": "s3cr3t",
                       "AWS_SESSION_TOKEN": "session-token", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    recorded = Recorded()
    monkeypatch.setattr(qa_kit.urllib.request, "urlopen", recorded.urlopen)
    url = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/api/predict"

    answer = qa_kit.call_api(url, "POST", {"records": RECORDS})
    assert (answer.status, answer.body) == (200, {"predictions": []})
    (sent,) = recorded.requests
    headers = {k.lower(): v for k, v in sent.header_items()}
    # Signed for the API's own region (from its host name), for execute-api, with the
    # credentials boto3's chain found (here the environment's), the session token included.
    assert re.fullmatch(r"AWS4-HMAC-SHA256 Credential=AKIDSMOKETEST/\d{8}/eu-west-1/"
                        r"execute-api/aws4_request, SignedHeaders=\S*host\S*, "
                        r"Signature=[0-9a-f]{64}", headers["authorization"])
    assert headers["x-amz-security-token"] == "session-token"
    assert sent.data == json.dumps({"records": RECORDS}).encode()

    qa_kit.call_api(url, "POST", {"records": RECORDS}, sign=False)
    assert "authorization" not in {k.lower() for k, _ in recorded.requests[-1].header_items()}
