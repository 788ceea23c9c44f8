"""The local REST APIs (the gateway's internal routes behind `AWS::Serverless::Api`) in front
of plain Lambda functions of the local Lambda: each request becomes API Gateway's proxy event
(payload format 1.0), the function's proxy response becomes the answer, and what API Gateway
answers itself (bad function answers, timeouts, mock integrations, definitions it cannot
serve) is answered as it does."""

from __future__ import annotations

import base64

import httpx
import pytest
from awslambda.lambda_kit import create
from testkit import unique

from sagepipe.clients import SigV4, client
from sagepipe.config import Settings

pytest_plugins = ["serving_kit"]

# A function that answers with the event it received, or misbehaves as the path says.
ECHO = r'''
import base64
import json
import time


def handler(event, context):
    if event["path"].endswith("/malformed"):
        return {"body": "no status code"}
    if event["path"].endswith("/raise"):
        raise RuntimeError("the function failed")
    if event["path"].endswith("/slow"):
        time.sleep(3)
    if event["path"].endswith("/binary"):
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(b"\x89PNG").decode(), "isBase64Encoded": True}
    return {"statusCode": 201, "headers": {"Content-Type": "application/json", "X-One": "1"},
            "multiValueHeaders": {"X-Many": ["a", "b"]}, "body": json.dumps(event)}
'''


@pytest.fixture
def routes(images: Settings):
    base = f"{images.endpoint_url}/_sagepipe/serverless/"
    with httpx.Client(base_url=base, timeout=120, trust_env=False, auth=SigV4(images)) as http:
        yield http


@pytest.fixture(scope="module")
def echo(images: Settings) -> str:
    return create(client(images, "lambda"), {"app.py": ECHO}, Timeout=10)


def integration(function: str, **options) -> dict:
    uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
           f"arn:aws:lambda:us-east-1:000000000000:function:{function}/invocations")
    return {"x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST",
                                                "uri": uri, **options}}


def api_for(function: str) -> dict:
    """A REST API (no auth) whose routes call `function`: a literal route, a path parameter
    with a greedy one, a fast-timeout route, a CORS preflight mock."""
    preflight = {"x-amazon-apigateway-integration": {"type": "mock", "responses": {"default": {
        "statusCode": "200", "responseParameters": {
            "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'"}}}}}
    return {"StageName": "api", "DefinitionBody": {"swagger": "2.0", "paths": {
        "/hello": {"get": integration(function), "options": preflight},
        "/items/{id}": {"x-amazon-apigateway-any-method": integration(function)},
        "/files/{path+}": {"get": integration(function)},
        "/timeout/slow": {"get": integration(function, timeoutInMillis=1000)},
        "/fails/{how}": {"get": integration(function)},
    }, "x-amazon-apigateway-binary-media-types": ["application/octet-stream"]}}


@pytest.fixture(scope="module")
def served(images: Settings, echo: str):
    """The API in front of the echo function: its URL."""
    api_id = unique("api")
    with httpx.Client(base_url=f"{images.endpoint_url}/_sagepipe/serverless/", timeout=120,
                      trust_env=False, auth=SigV4(images)) as http:
        reply = http.put(f"restapis/{api_id}", json=api_for(echo))
        assert reply.status_code == 200, reply.text
        yield reply.json()["Url"]
        http.delete(f"restapis/{api_id}")


def refused(reply: httpx.Response, status: int, error_type: str, message: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.json()["__type"] == error_type
    assert message in reply.json()["message"]


def test_a_request_becomes_the_proxy_event(served):
    reply = httpx.get(served + "hello?name=a&name=b&x=1", headers={"X-Custom": "v"},
                      trust_env=False)
    assert reply.status_code == 201
    assert reply.headers["x-one"] == "1" and reply.headers.get_list("x-many") == ["a", "b"]
    event = reply.json()
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/hello", "/hello", "GET")
    assert event["queryStringParameters"] == {"name": "b", "x": "1"}
    assert event["multiValueQueryStringParameters"] == {"name": ["a", "b"], "x": ["1"]}
    assert event["headers"]["x-custom"] == "v" and event["multiValueHeaders"]["x-custom"] == ["v"]
    assert event["pathParameters"] is None and event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert (context["resourcePath"], context["path"], context["stage"]) == ("/hello",
                                                                            "/api/hello", "api")
    assert context["httpMethod"] == "GET" and context["accountId"] == "000000000000"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["accessKey"] is None  # not a signed route
    assert isinstance(context["requestTimeEpoch"], int) and context["requestId"]


def test_path_parameters_bodies_and_methods(served):
    reply = httpx.post(served + "items/a%20b", content=b'{"k": 1}', trust_env=False,
                       headers={"Content-Type": "application/json"})
    event = reply.json()
    assert event["resource"] == "/items/{id}" and event["pathParameters"] == {"id": "a b"}
    assert event["httpMethod"] == "POST" and event["body"] == '{"k": 1}'
    greedy = httpx.get(served + "files/a/b/c.txt", trust_env=False).json()
    assert greedy["pathParameters"] == {"path": "a/b/c.txt"}
    binary = httpx.put(served + "items/1", content=b"\x00\x01", trust_env=False,
                       headers={"Content-Type": "application/octet-stream"}).json()
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x00\x01"


def test_a_base64_answer_is_decoded(served):
    reply = httpx.get(served + "fails/binary", trust_env=False)
    assert reply.status_code == 200 and reply.content == b"\x89PNG"
    assert reply.headers["content-type"] == "image/png"


def test_what_api_gateway_answers_itself(served):
    for how in ("malformed", "raise"):
        reply = httpx.get(served + f"fails/{how}", trust_env=False)
        assert reply.status_code == 502, how
        assert reply.json() == {"message": "Internal server error"}
    slow = httpx.get(served + "timeout/slow", trust_env=False, timeout=30)
    assert slow.status_code == 504 and slow.json() == {"message": "Endpoint request timed out"}
    too_long = httpx.put(served + "items/1", content=b"x" * (7 * 1024 * 1024), trust_env=False)
    assert too_long.status_code == 413 and too_long.json() == {"message": "Request Too Long"}
    preflight = httpx.options(served + "hello", trust_env=False)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-methods"] == "GET,OPTIONS"
    for method, path in (("GET", "nothing"), ("DELETE", "hello"), ("GET", "../other")):
        reply = httpx.request(method, served + path, trust_env=False)
        assert reply.status_code == 403
        assert reply.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_malformed_calls_are_4xx(routes):
    refused(routes.put("restapis/x", content=b"{not json"), 400, "SerializationException",
            "body is not JSON")
    refused(routes.put("restapis/x", json=[1]), 400, "SerializationException",
            "must be a JSON object")
    refused(routes.post("restapis/x", json={}), 404, "UnknownOperationException",
            "no internal operation at POST")
    refused(routes.put("functions/x", json={}), 404, "UnknownOperationException",
            "no internal operation at PUT")


def test_apis_that_cannot_be_served_are_refused(routes, echo):
    refused(routes.put("restapis/x", json={"StageName": "api"}), 400, "BadRequestException",
            "DefinitionBody must be an OpenAPI document")
    refused(routes.put("restapis/x", json=api_for("nobody")), 404, "NotFoundException",
            "function:nobody, which does not exist")
    bad_stage = {**api_for(echo), "StageName": "a/b"}
    refused(routes.put("restapis/x", json=bad_stage), 400, "BadRequestException", "StageName")
    http_integration = {"StageName": "api", "DefinitionBody": {"paths": {"/x": {"get": {
        "x-amazon-apigateway-integration": {"type": "http", "uri": "http://example.com"}}}}}}
    refused(routes.put("restapis/x", json=http_integration), 400, "BadRequestException",
            "only Lambda proxy integrations (aws_proxy) and mock integrations")
    slow = api_for(echo)
    slow["DefinitionBody"]["paths"]["/hello"]["get"]["x-amazon-apigateway-integration"][
        "timeoutInMillis"] = 60_000
    refused(routes.put("restapis/x", json=slow), 400, "BadRequestException",
            "timeoutInMillis 60000 must be from 50 to 29000")
    assert "x" not in [api["Id"] for api in routes.get("restapis").json()]
    refused(routes.delete("restapis/x"), 404, "NotFoundException", "does not exist")
