"""The gateway's internal routes behind the serverless resource types: what cannot be hosted is
refused with a 4xx saying why, and nothing is left half-created."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest
from api.serving_kit import BUCKET, ensure_bucket, unique

from sagepipe.clients import SigV4, client
from sagepipe.config import Settings

pytest_plugins = ["api.serving_fixtures"]

@pytest.fixture
def routes(images: Settings):
    base = f"{images.endpoint_url}/_sagepipe/serverless/"
    with httpx.Client(base_url=base, timeout=120, trust_env=False, auth=SigV4(images)) as http:
        yield http


def code(images: Settings, files: dict[str, str]) -> str:
    """A zip of `files` in the local S3: its s3:// URI."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    ensure_bucket(images)
    key = f"{unique('code')}.zip"
    client(images, "s3").put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())
    return f"s3://{BUCKET}/{key}"


def function(uri: str, **changes) -> dict:
    return {"CodeUri": uri, "Handler": "app.app", "Runtime": "python3.11", "Timeout": 30,
            "MemorySize": 256, **changes}


def api_for(name: str) -> dict:
    """A REST API whose GET /hello (no auth) calls function `name`."""
    uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
           f"arn:aws:lambda:us-east-1:000000000000:function:{name}/invocations")
    hello = {"x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST",
                                                 "uri": uri}}
    return {"StageName": "api",
            "DefinitionBody": {"swagger": "2.0", "paths": {"/hello": {"get": hello}}}}


def refused(reply: httpx.Response, status: int, error_type: str, message: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.json()["__type"] == error_type
    assert message in reply.json()["message"]


def test_functions_that_cannot_run_are_refused(images, routes):
    uri = code(images, {"app.py": "from chalice import Chalice\napp = Chalice('x')\n"})
    name = unique("fn")
    cases = [(function("./deployment.zip"), "is not in S3: package the template first"),
             (function(f"s3://{BUCKET}/missing.zip"), "does not exist in S3"),
             (function(uri, Runtime="nodejs20.x"), "only python3.x runtimes are accepted"),
             (function(uri, Handler="app"), "must name module.attribute"),
             (function(uri, Timeout="soon"), "Timeout 'soon' must be an integer from 1 to 900")]
    for params, message in cases:
        refused(routes.put(f"functions/{name}", json=params), 400,
                "InvalidParameterValueException", message)
    assert routes.delete(f"functions/{name}").json()["__type"] == "ResourceNotFound"


def test_malformed_calls_are_4xx(routes):
    refused(routes.put("functions/x", content=b"{not json"), 400, "SerializationException",
            "body is not JSON")
    refused(routes.put("functions/x", json=[1]), 400, "SerializationException",
            "must be a JSON object")
    refused(routes.post("restapis/x", json={}), 404, "UnknownOperationException",
            "no internal operation at POST")


def test_apis_that_cannot_be_served_are_refused(images, routes):
    refused(routes.put("restapis/x", json={"StageName": "api"}), 400, "BadRequestException",
            "DefinitionBody must be an OpenAPI document")
    refused(routes.put("restapis/x", json=api_for("nobody")), 404, "NotFoundException",
            "call function nobody, which does not exist")
    name = unique("fn")
    assert routes.put(f"functions/{name}", json=function(code(images, {
        "app.py": "def app(event, context):\n    return {}\n"}))).status_code == 200
    refused(routes.put("restapis/plain", json=api_for(name)), 400, "BadRequestException",
            "is not a Chalice app")
    assert "plain" not in [api["Id"] for api in routes.get("restapis").json()]
    routes.delete(f"functions/{name}")


def test_a_function_behind_an_api_cannot_be_deleted(images, routes):
    name, api_id = unique("fn"), unique("api")
    routes.put(f"functions/{name}", json=function(code(images, {
        "app.py": "from chalice import Chalice\napp = Chalice('x')\n\n"
                  "@app.route('/hello')\ndef hello():\n    return {'hello': 'world'}\n"})))
    served = routes.put(f"restapis/{api_id}", json=api_for(name))
    assert served.status_code == 200, served.text
    assert httpx.get(served.json()["Url"] + "hello", trust_env=False).json() == {"hello": "world"}
    refused(routes.delete(f"functions/{name}"), 400, "ResourceInUse", f"behind REST API(s) "
            f"{api_id}")
    assert routes.delete(f"restapis/{api_id}").status_code == 204
    assert routes.delete(f"functions/{name}").status_code == 204
