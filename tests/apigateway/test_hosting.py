"""The packaged API (chalice package + aws cloudformation package, as the PackageApi build runs
them) deployed by the local CloudFormation and served on 127.0.0.1 by the local AWS, in front of
a real endpoint: its function runs in the local Lambda runtime behind the local API Gateway, IAM
auth enforced as API Gateway does, restored across restarts, removed with its stack."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from serving_kit import api_parameters, package_api
from testkit import unique

from sagepipe.clients import internal
from sagepipe.cloudformation.providers import Context
from sagepipe.cloudformation.stacks import StackError, Stacks
from sagepipe.cloudformation.template import load
from sagepipe.config import Settings
from sagepipe.processes import alive, command_line, free_port, port_free, start_ticks
from sagepipe.server import running_pid, start_background, stop
from sagepipe.sigv4 import sign
from sagepipe.store import Store

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

pytest_plugins = ["serving_kit"]

ONE = {"records": [{"Pclass": 1, "Sex": "female", "Age": 29}]}
LOCAL_URL = re.compile(r"^http://127\.0\.0\.1:\d+/api/$")
STACK = unique("api-stack")  # the session's local AWS is shared with other test modules


def stacks_of(settings: Settings, log: list[str] | None = None) -> Stacks:
    say = log.append if log is not None else lambda _line: None
    return Stacks(Store(settings.db_path), Context(settings, say))


def signed(home: Settings, method: str, url: str, body: bytes = b"", secret: str | None = None,
           key: str | None = None, region: str = "us-east-1") -> httpx.Response:
    """A request signed as an SDK signs it, with the home's credentials unless told otherwise."""
    credentials = home.credentials
    headers = sign(method, url, body, key or credentials.access_key_id,
                   secret or credentials.secret_access_key, region,
                   {"Content-Type": "application/json"} if body else None)
    return httpx.request(method, url, content=body, headers=headers, trust_env=False)


def signed_headers(home: Settings, method: str, url: str, body: bytes = b"",
                   headers: dict | None = None) -> dict[str, str]:
    credentials = home.credentials
    return sign(method, url, body, credentials.access_key_id, credentials.secret_access_key,
                "us-east-1", headers)


def forbidden(response: httpx.Response, error_type: str, message: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["x-amzn-ErrorType"] == error_type
    assert message in response.json()["message"]


@pytest.fixture(scope="module")
def packaged(images: Settings, tmp_path_factory) -> Path:
    return package_api(images, tmp_path_factory.mktemp("api-package"))


@pytest.fixture(scope="module")
def deployed(images: Settings, packaged: Path, model_endpoint: str):
    """The API stack in front of the model endpoint: (outputs, deploy log)."""
    log: list[str] = []
    stacks = stacks_of(images, log)
    outputs = stacks.deploy(STACK, load(packaged), api_parameters(model_endpoint))
    yield outputs, log
    stacks.delete(STACK)


def test_the_stack_outputs_the_local_url(deployed):
    outputs, log = deployed
    assert LOCAL_URL.match(outputs["EndpointURL"]), outputs
    assert any(line.startswith(f"  output EndpointURL: {outputs['EndpointURL']} (in AWS: "
                               "https://") for line in log), log


def test_a_signed_request_gets_the_models_predictions(images, deployed, model_endpoint):
    url = deployed[0]["EndpointURL"]
    response = signed(images, "POST", url + "predict", json.dumps(ONE).encode())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["endpoint"] == model_endpoint and len(answer["predictions"]) == 1
    health = signed(images, "GET", url + "health")
    assert health.status_code == 200 and health.json()["endpoint_status"] == "InService"


def test_validation_errors_come_through_the_hosting(images, deployed):
    response = signed(images, "POST", deployed[0]["EndpointURL"] + "predict", b'{"records": []}')
    assert response.status_code == 400
    assert response.json()["Code"] == "BadRequestError"


def test_an_unsigned_request_is_403(deployed):
    url = deployed[0]["EndpointURL"]
    forbidden(httpx.post(url + "predict", json=ONE), "MissingAuthenticationTokenException",
              "Missing Authentication Token")
    forbidden(httpx.get(url + "health"), "MissingAuthenticationTokenException",
              "Missing Authentication Token")


def test_a_wrong_secret_is_403(images, deployed):
    forbidden(signed(images, "GET", deployed[0]["EndpointURL"] + "health", secret="guess"),
              "InvalidSignatureException", "signature we calculated does not match")


def test_an_unknown_access_key_is_403(images, deployed):
    forbidden(signed(images, "GET", deployed[0]["EndpointURL"] + "health", key="AKIAEXAMPLE"),
              "UnrecognizedClientException", "security token included in the request is invalid")


def test_a_body_changed_after_signing_is_403(images, deployed):
    url = deployed[0]["EndpointURL"] + "predict"
    headers = signed_headers(images, "POST", url, json.dumps(ONE).encode(),
                             {"Content-Type": "application/json"})
    tampered = json.dumps({"records": [{"Pclass": 3, "Sex": "male", "Age": 29}]}).encode()
    forbidden(httpx.post(url, content=tampered, headers=headers), "InvalidSignatureException",
              "signature we calculated does not match")


def test_a_signature_for_another_region_or_service_is_403(images, deployed):
    url = deployed[0]["EndpointURL"] + "health"
    forbidden(signed(images, "GET", url, region="eu-west-1"), "InvalidSignatureException",
              "Credential should be scoped to")
    headers = signed_headers(images, "GET", url)
    headers["Authorization"] = headers["Authorization"].replace("/execute-api/", "/sagemaker/")
    forbidden(httpx.get(url, headers=headers), "InvalidSignatureException",
              "Credential should be scoped to")


def test_an_old_signature_is_403(images, deployed):
    url = deployed[0]["EndpointURL"] + "health"
    headers = signed_headers(images, "GET", url)
    headers["X-Amz-Date"] = "20200101T000000Z"
    forbidden(httpx.get(url, headers=headers), "InvalidSignatureException",
              "Signature expired: 20200101T000000Z is now earlier than")


def test_a_malformed_authorization_header_is_403(deployed):
    forbidden(httpx.get(deployed[0]["EndpointURL"] + "health",
                        headers={"Authorization": "Bearer abc"}),
              "IncompleteSignatureException", "Authorization header requires")


def test_paths_outside_the_api_are_403(images, deployed):
    """Signed or not, a route the API does not define (another path, another method) is API
    Gateway's 403 MissingAuthenticationToken: no 404 or 405 tells which routes exist."""
    url = deployed[0]["EndpointURL"]
    for method, path in (("GET", url.removesuffix("api/") + "predict"),
                         ("GET", url + "nothing-here"), ("GET", url + "predict"),
                         ("DELETE", url + "health")):
        forbidden(httpx.request(method, path), "MissingAuthenticationTokenException",
                  "Missing Authentication Token")
        forbidden(signed(images, method, path), "MissingAuthenticationTokenException",
                  "Missing Authentication Token")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_call_works(images, deployed):
    credentials = images.credentials
    done = subprocess.run(
        ["curl", "--silent", "--show-error", "--aws-sigv4", "aws:amz:us-east-1:execute-api",
         "--user", f"{credentials.access_key_id}:{credentials.secret_access_key}",
         "-H", "Content-Type: application/json", "-d", json.dumps(ONE),
         deployed[0]["EndpointURL"] + "predict"], capture_output=True, text=True, check=True)
    assert len(json.loads(done.stdout)["predictions"]) == 1


def test_a_stack_update_restarts_the_api_on_the_same_port(images, packaged, deployed,
                                                          model_endpoint):
    stacks = stacks_of(images)
    url = deployed[0]["EndpointURL"]
    try:
        updated = stacks.deploy(STACK, load(packaged), api_parameters("retired-endpoint"))
        assert updated["EndpointURL"] == url
        health = signed(images, "GET", url + "health")
        assert health.status_code == 503
        assert "endpoint retired-endpoint is unavailable" in health.json()["Message"]
    finally:
        stacks.deploy(STACK, load(packaged), api_parameters(model_endpoint))
    assert signed(images, "GET", url + "health").status_code == 200


def test_a_template_not_packaged_fails_and_rolls_back(images, packaged):
    stacks = stacks_of(images)
    with pytest.raises(StackError, match=r"CodeUri '\./deployment\.zip' is not in S3: package"):
        stacks.deploy("unpackaged-api", load(packaged.with_name("sam.json")), api_parameters("x"))
    assert stacks.describe("unpackaged-api")["Status"] == "ROLLBACK_COMPLETE"
    stacks.delete("unpackaged-api")


def test_an_api_key_authorizer_is_refused_not_ignored(images, packaged, tmp_path):
    template = yaml.safe_load(packaged.read_text())
    definition = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    definition["securityDefinitions"]["api_key"] = {"type": "apiKey", "name": "x-api-key",
                                                    "in": "header"}
    definition["paths"]["/predict"]["post"]["security"] = [{"api_key": []}]
    changed = tmp_path / "api-key.yaml"
    changed.write_text(yaml.safe_dump(template))
    stacks = stacks_of(images)
    with pytest.raises(StackError, match=r"security scheme 'api_key' .* is not emulated locally"):
        stacks.deploy("api-key-api", load(changed), api_parameters("x"))
    stacks.delete("api-key-api")


def wait_answering(url: str, bound: float = 60) -> httpx.Response:
    """The first answer from `url` within `bound` seconds (the API restarts in background)."""
    deadline = time.monotonic() + bound
    while True:
        try:
            return httpx.get(url, timeout=2, trust_env=False)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_api_comes_back_on_its_port_after_a_restart_and_goes_with_its_stack(tmp_path):
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    try:
        stacks = stacks_of(settings)
        outputs = stacks.deploy("sagepipe-api", load(package_api(settings, tmp_path / "package")),
                                api_parameters("absent"))
        url = outputs["EndpointURL"] + "health"
        assert signed(settings, "GET", url).status_code == 503
        stop(settings)
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=2, trust_env=False)
        start_background(settings)
        assert wait_answering(url).status_code == 403  # unsigned: the API is back, auth on
        answer = signed(settings, "GET", url).json()
        assert answer["Message"].startswith("endpoint absent is unavailable")
        stacks.delete("sagepipe-api")
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=2, trust_env=False)
    finally:
        stop(settings)


def kill_9(settings: Settings) -> None:
    """kill -9 the gateway and wait until it is gone."""
    pid = running_pid(settings)
    assert pid is not None
    ticks = start_ticks(pid)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(pid, ticks or 0) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_after_a_kill_9_the_api_comes_back_on_the_same_port_or_says_who_holds_it(tmp_path):
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    squatter = socket.socket()
    try:
        outputs = stacks_of(settings).deploy(
            "sagepipe-api", load(package_api(settings, tmp_path / "package")),
            api_parameters("absent"))
        url = outputs["EndpointURL"] + "health"
        port = int(url.split(":")[2].split("/")[0])
        assert signed(settings, "GET", url).status_code == 503  # a warm sandbox now runs
        gateway = running_pid(settings)
        assert gateway is not None
        sandboxes = sandbox_pids(gateway)
        assert sandboxes
        kill_9(settings)  # the API's port goes with its gateway; its sandboxes follow it
        deadline = time.monotonic() + 10
        while any(is_sandbox(pid) for pid in sandboxes) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(is_sandbox(pid) for pid in sandboxes)
        start_background(settings)  # the new gateway serves the API on the same port
        assert wait_answering(url).status_code == 403
        assert signed(settings, "GET", url).json()["Message"].startswith(
            "endpoint absent is unavailable")

        kill_9(settings)
        deadline = time.monotonic() + 10
        while not port_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        squatter.bind(("127.0.0.1", port))  # the port is free, until someone takes it
        squatter.listen()
        start_background(settings)
        deadline = time.monotonic() + 30
        while (api := internal(settings, "GET", "serverless/restapis")[0])["Status"] != "Failed":
            assert time.monotonic() < deadline, api
            time.sleep(0.2)
        assert api["Url"] is None and api["Port"] == port
        assert f"port {port} is taken by pid {os.getpid()}" in api["FailureReason"]
    finally:
        squatter.close()
        stop(settings)


def is_sandbox(pid: int) -> bool:
    return "sagepipe.awslambda.bootstrap" in " ".join(command_line(pid))


def sandbox_pids(parent: int) -> set[int]:
    """The Lambda sandboxes the gateway `parent` runs."""
    children = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(stat[1]) == parent and is_sandbox(int(proc.name)):
                children.add(int(proc.name))
    return children


def test_the_cli_prints_the_url_and_calls_the_api(images, deployed, model_endpoint):
    outputs = deployed[0]
    cli = [str(Path(sys.executable).with_name("sagepipe")), "--home", str(images.home),
           "--port", str(images.port), "api"]
    listed = subprocess.run([*cli, "url"], capture_output=True, text=True, check=True)
    assert outputs["EndpointURL"] in listed.stdout.splitlines()
    assert ("curl --aws-sigv4 'aws:amz:us-east-1:execute-api' --user "
            '"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"') in listed.stderr
    called = subprocess.run([*cli, "call", "predict", "--api", outputs["RestAPIId"], "--body",
                             json.dumps(ONE)], capture_output=True, text=True, check=True)
    assert json.loads(called.stdout)["endpoint"] == model_endpoint
    refused = subprocess.run([*cli, "call", "predict", "--api", outputs["RestAPIId"], "--body",
                              '{"records": []}'], capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and json.loads(refused.stdout)["Code"] == "BadRequestError"
