"""chalice-api/ through chalice.test.Client, with real boto3 calls to the local AWS: a real
endpoint serving the trained model, and stub model servers for the ways an endpoint fails.
(chalice.test lets IAM-authorized routes through; auth is tested on the hosted API,
test_hosting.py.)"""

from __future__ import annotations

import importlib
import json
import os
import signal
import time

import pytest
from botocore.config import Config
from chalice.test import Client
from serving_kit import create_endpoint
from testkit import API_DIR, STUB_IMAGE, use_local_aws, wait_until

from sagepipe.clients import client
from sagepipe.config import Settings

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

pytest_plugins = ["serving_kit"]
pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")

RECORDS = [{"Pclass": 1, "Sex": "female", "Age": 29}, {"Pclass": 3, "Sex": "male", "Age": None},
           {"Pclass": 2, "Sex": "male"}]


@pytest.fixture(scope="module")
def app_module():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(API_DIR))
        yield importlib.import_module("app")


@pytest.fixture
def api(app_module, images: Settings, monkeypatch):
    """`api(endpoint)` -> a chalice test client of the app configured for `endpoint`, its AWS
    clients pointed at the local AWS."""
    use_local_aws(monkeypatch, images)
    app_module.aws.cache_clear()

    def configured(endpoint: str | None) -> Client:
        if endpoint is None:
            monkeypatch.delenv("ENDPOINT_NAME", raising=False)
        else:
            monkeypatch.setenv("ENDPOINT_NAME", endpoint)
        return Client(app_module.app, stage_name="prod", project_dir=str(API_DIR))

    yield configured
    app_module.aws.cache_clear()


def predict(test_client: Client, body, content_type: str = "application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return test_client.http.post("/predict", headers={"Content-Type": content_type}, body=raw)


@pytest.fixture(scope="module")
def stubs(images: Settings) -> dict[str, str]:
    """Endpoints whose model fails in each way: mode -> endpoint name (`crash`: Failed)."""
    sm = client(images, "sagemaker")
    names = {mode: create_endpoint(sm, STUB_IMAGE, environment={"STUB_MODE": mode, "STUB_SLEEP":
                                                                "3"}, wait=mode != "crash")
             for mode in ("error", "garbage", "slow", "crash")}
    while sm.describe_endpoint(EndpointName=names["crash"])["EndpointStatus"] == "Creating":
        time.sleep(0.2)
    return names


# -- answers ---------------------------------------------------------------------------------

def test_predict_answers_what_the_model_says(api, model_endpoint, aws):
    response = predict(api(model_endpoint), {"records": RECORDS})
    assert response.status_code == 200, response.body
    answer = response.json_body
    assert answer["endpoint"] == model_endpoint
    assert len(answer["predictions"]) == len(RECORDS)
    for prediction in answer["predictions"]:
        assert prediction["survived"] in (0, 1) and 0 <= prediction["probability"] <= 1
    direct = json.loads(aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=model_endpoint, ContentType="application/json", Accept="application/json",
        Body=json.dumps({"instances": RECORDS}))["Body"].read())
    assert answer["predictions"] == direct["predictions"]
    assert answer["model_version"] == direct["model_version"]


def test_predict_takes_up_to_100_records(api, model_endpoint):
    response = predict(api(model_endpoint), {"records": [RECORDS[0]] * 100})
    assert response.status_code == 200, response.body
    assert len(response.json_body["predictions"]) == 100


def test_health_is_ok_when_the_endpoint_is_in_service(api, model_endpoint):
    response = api(model_endpoint).http.get("/health")
    assert response.status_code == 200, response.body
    assert response.json_body == {"status": "ok", "endpoint": model_endpoint,
                                  "endpoint_status": "InService",
                                  "serving_variants": ["AllTraffic"]}


# -- the caller's mistakes: 4xx --------------------------------------------------------------

ONE = {"Pclass": 1, "Sex": "female", "Age": 29}
BAD_REQUESTS = {
    "empty body": (b"", "empty body"),
    "not JSON": (b"{records: 1}", "not valid JSON"),
    "NaN": (b'{"records": [{"Pclass": 1, "Sex": "male", "Age": NaN}]}', "NaN is not a JSON"),
    "not UTF-8": (b'{"records": "\xff"}', "not valid JSON"),
    "an array": ([ONE], "must be a JSON object"),
    "extra top-level field": ({"records": [ONE], "model": "x"}, "unknown top-level field(s) model"),
    "no records": ({}, '"records" must be a non-empty array'),
    "records not an array": ({"records": ONE}, '"records" must be a non-empty array'),
    "empty records": ({"records": []}, '"records" must be a non-empty array'),
    "too many records": ({"records": [ONE] * 101}, "101 records; send at most 100"),
    "record not an object": ({"records": [ONE, [1, "male", 3]]},
                             "records[1] must be an object with Pclass, Sex and Age, got array"),
    "missing Pclass": ({"records": [{"Sex": "male", "Age": 3}]}, "records[0] is missing Pclass"),
    "missing Sex": ({"records": [{"Pclass": 2}]}, "records[0] is missing Sex"),
    "extra field": ({"records": [{**ONE, "Name": "Rose"}]}, "unknown field(s) Name"),
    "Pclass as text": ({"records": [{**ONE, "Pclass": "1"}]}, 'Pclass must be the integer 1, 2'),
    "Pclass out of range": ({"records": [{**ONE, "Pclass": 4}]}, "got 4"),
    "Pclass float": ({"records": [{**ONE, "Pclass": 1.0}]}, "got 1.0"),
    "Pclass boolean": ({"records": [{**ONE, "Pclass": True}]}, "got true"),
    "unknown Sex": ({"records": [{**ONE, "Sex": "Female"}]}, 'Sex must be "female" or "male"'),
    "Sex as number": ({"records": [{**ONE, "Sex": 1}]}, "got 1"),
    "negative Age": ({"records": [{**ONE, "Age": -1}]}, "Age must be a number of years from 0"),
    "absurd Age": ({"records": [{**ONE, "Age": 300}]}, "got 300"),
    "Age as text": ({"records": [{**ONE, "Age": "29"}]}, 'got "29"'),
    "Age boolean": ({"records": [{**ONE, "Age": False}]}, "got false"),
    "Age huge": (b'{"records": [{"Pclass": 1, "Sex": "male", "Age": 1e999}]}', "got Infinity"),
    "nested 1,000 levels": (b'{"records": ' + b"[" * 1000 + b"]" * 1000 + b"}",
                            "body nests arrays or objects too deeply to parse"),
    "nested 30,000 levels": (b"[" * 30_000, "body nests arrays or objects too deeply"),
    "Age nested 900 levels": (b'{"records": [{"Pclass": 1, "Sex": "male", "Age": ' + b"[" * 900
                              + b"]" * 900 + b"}]}", "null when unknown; got an array"),
    "Sex a long text": ({"records": [{**ONE, "Sex": "f" * 5000}]},
                        'got "ffffffffffffffffffffffffffffffffffffffff..." (5000 characters)'),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_requests_are_400_with_what_to_fix(api, model_endpoint, case):
    body, message = BAD_REQUESTS[case]
    response = predict(api(model_endpoint), body)
    assert response.status_code == 400, response.body
    assert response.json_body["Code"] == "BadRequestError"
    assert message in response.json_body["Message"]


def test_a_body_over_64_kib_is_413(api, model_endpoint):
    body = json.dumps({"records": [ONE], "padding": " " * 70_000}).encode()
    response = predict(api(model_endpoint), body)
    assert response.status_code == 413
    assert "at most 65536" in response.json_body["Message"]


def test_a_body_that_is_not_json_typed_is_415(api, model_endpoint):
    response = predict(api(model_endpoint), b"1,female,29", content_type="text/csv")
    assert response.status_code == 415


def test_predict_is_post_only(api, model_endpoint):
    assert api(model_endpoint).http.get("/predict").status_code == 405


# -- the endpoint's failures: 502, 503, 504, never a traceback -------------------------------

def test_a_model_error_is_502_with_the_model_message(api, stubs):
    response = predict(api(stubs["error"]), {"records": [ONE]})
    assert response.status_code == 502
    assert response.json_body["Code"] == "BadGatewayError"
    assert "failed (status 500): model exploded: division by zero" in \
        response.json_body["Message"]


def test_an_answer_that_is_not_the_models_is_502(api, stubs):
    response = predict(api(stubs["garbage"]), {"records": [ONE]})
    assert response.status_code == 502
    assert "answered in an unexpected form" in response.json_body["Message"]


def test_an_endpoint_that_does_not_exist_is_503(api):
    for response in (predict(api("no-such-endpoint"), {"records": [ONE]}),
                     api("no-such-endpoint").http.get("/health")):
        assert response.status_code == 503
        assert response.json_body["Code"] == "ServiceUnavailableError"
        assert "endpoint no-such-endpoint is unavailable" in response.json_body["Message"]


def test_an_endpoint_not_in_service_is_503(api, stubs):
    response = predict(api(stubs["crash"]), {"records": [ONE]})
    assert response.status_code == 503
    assert "is not InService (status Failed)" in response.json_body["Message"]
    health = api(stubs["crash"]).http.get("/health")
    assert health.status_code == 503
    assert health.json_body["Message"] == f"endpoint {stubs['crash']} is Failed, not InService"


def test_health_is_503_while_the_endpoints_only_instance_is_being_replaced(api, images,
                                                                           tmp_path):
    """SageMaker keeps the endpoint InService while it replaces a dead instance: /health must
    look at the variants, or it says ok while every call gets a 503."""
    gate = tmp_path / "ready"
    gate.touch()
    sm = client(images, "sagemaker")
    name = create_endpoint(sm, STUB_IMAGE, environment={"STUB_MODE": "ok", "STUB_GATE": str(gate)})
    assert api(name).http.get("/health").json_body["serving_variants"] == ["AllTraffic"]
    pid = json.loads(client(images, "sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="application/json",
        Body=json.dumps({"instances": [ONE]}))["Body"].read())["pid"]
    gate.unlink()  # the replacement will not pass its health check until the gate is back
    os.kill(pid, signal.SIGKILL)
    health = wait_until(lambda: api(name).http.get("/health"), lambda r: r.status_code != 200,
                        "/health to see the outage", timeout=60)
    assert health.status_code == 503
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    assert health.json_body["Message"].startswith(
        f"endpoint {name} is InService but no production variant has an instance serving: "
        "AllTraffic: Replacing the instance: its model server was killed by SIGKILL")
    gate.touch()
    healed = wait_until(lambda: api(name).http.get("/health"), lambda r: r.status_code == 200,
                        "/health to see the replacement serve", timeout=60)
    assert healed.json_body["status"] == "ok"
    sm.delete_endpoint(EndpointName=name)


def test_an_unreachable_sagemaker_is_503(api, model_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: refused
    response = predict(api(model_endpoint), {"records": [ONE]})
    assert response.status_code == 503
    assert "is unreachable: Could not connect" in response.json_body["Message"]


def test_the_api_without_an_endpoint_name_is_503(api):
    response = predict(api(None), {"records": [ONE]})
    assert response.status_code == 503
    assert "ENDPOINT_NAME is not set" in response.json_body["Message"]


def test_an_endpoint_too_slow_to_answer_is_504(api, app_module, stubs, monkeypatch):
    monkeypatch.setattr(app_module, "AWS_CONFIG",
                        Config(read_timeout=1, retries={"total_max_attempts": 1}))
    response = predict(api(stubs["slow"]), {"records": [ONE]})
    assert response.status_code == 504
    assert "did not answer in time" in response.json_body["Message"]


def test_a_bug_is_a_500_without_a_traceback(api, app_module, model_endpoint, monkeypatch):
    def broken(_body):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(app_module, "parse_records", broken)
    response = predict(api(model_endpoint), {"records": [ONE]})
    assert response.status_code == 500
    assert response.json_body == {"Code": "InternalServerError",
                                  "Message": "An internal server error occurred."}
