"""The edge and its tables: only what a service's table names can be called; an operation of
the model the table lacks answers NotImplemented naming service and operation, one the model
lacks the protocol's unknown-operation error; a bug answers the service's internal error, 500,
with the traceback in the gateway log only."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from botocore.exceptions import ClientError
from starlette.applications import Starlette
from starlette.requests import Request
from testkit import signed_http

from sagepipe.auth import Authenticator
from sagepipe.credentials import LocalCredentials
from sagepipe.ecr.models import Ecr
from sagepipe.ecr.responses import ecr_service
from sagepipe.edge import AwsService, serve
from sagepipe.s3.exceptions import NoSuchKey
from sagepipe.sigv4 import sign


def not_implemented(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error, meta = caught.value.response["Error"], caught.value.response["ResponseMetadata"]
    assert (error["Code"], meta["HTTPStatusCode"]) == ("NotImplemented", 501)
    return error["Message"]


@pytest.mark.parametrize("service, call, named", [
    ("s3", lambda c: c.get_bucket_policy(Bucket="any-bucket"), "S3 does not emulate "
     "GetBucketPolicy"),
    ("sagemaker", lambda c: c.list_notebook_instances(), "SageMaker does not emulate "
     "ListNotebookInstances"),
    ("sagemaker-runtime", lambda c: c.invoke_endpoint_async(EndpointName="e",
                                                            InputLocation="s3://b/k"),
     "SageMaker Runtime does not emulate InvokeEndpointAsync"),
    ("ecr", lambda c: c.describe_registry(), "ECR does not emulate DescribeRegistry"),
])
def test_operations_outside_the_table_answer_not_implemented(aws, service, call, named):
    assert named in not_implemented(lambda: call(aws(service)))


def test_a_method_that_is_not_in_the_table_cannot_be_called(local_aws):
    """`Ecr.registry_host` or SageMaker's `deployment` would have matched an operation name
    under the old name-matching dispatch; now only the table's operations exist."""
    with signed_http(local_aws, "sagemaker") as http:
        for target in ("SageMaker.Deployment", "SageMaker.Start", "SageMaker.deployment"):
            reply = http.post("/", content=b"{}", headers={"X-Amz-Target": target})
            assert reply.status_code == 400
            assert reply.json()["__type"] == "UnknownOperationException"


def test_internal_routes_outside_the_table_are_unknown(local_aws):
    with signed_http(local_aws, "sagepipe") as http:
        reply = http.post("/_sagepipe/serverless/restapis/x", json={})
    assert reply.status_code == 404
    assert reply.json()["__type"] == "UnknownOperationException"


def test_tables_name_only_operations_of_the_model():
    with pytest.raises(ValueError, match="has no operations"):
        AwsService("ecr", "ECR", {"MineBitcoin": lambda params: {}})


@pytest.fixture
def edge_app(tmp_path):
    """ECR behind the edge in-process, with handlers that fail in the two ways handlers do."""
    credentials = LocalCredentials("LSIAEDGETEST00000000", "secret")

    def bug(_params):
        raise KeyError("a bug of ours")

    def typed(_params):
        raise NoSuchKey("The specified key does not exist.", Key="k")

    service = ecr_service(Ecr.__new__(Ecr))
    service.handlers = {"GetAuthorizationToken": bug, "DescribeImages": typed}
    app = Starlette()

    async def route(request: Request):
        return await serve(service, request, Authenticator(credentials))

    app.add_route("/", route, methods=["POST"])
    return app, credentials


def call(app, credentials, operation: str) -> httpx.Response:
    url = "http://127.0.0.1/"
    body = b'{"repositoryName": "repo"}' if operation == "DescribeImages" else b"{}"
    headers = sign("POST", url, body, credentials.access_key_id, credentials.secret_access_key,
                   "us-east-1", {"X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921."
                                                 f"{operation}",
                                 "Content-Type": "application/x-amz-json-1.1"}, service="ecr")

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=url) as http:
            return await http.post("/", content=body, headers=headers)

    return asyncio.run(post())


def test_a_bug_is_a_500_internal_failure_with_the_traceback_only_in_the_log(edge_app, caplog):
    app, credentials = edge_app
    with caplog.at_level(logging.ERROR, logger="sagepipe.edge"):
        reply = call(app, credentials, "GetAuthorizationToken")
    assert reply.status_code == 500
    assert reply.json() == {"__type": "InternalFailure", "message": (
        "sagepipe's local ECR hit an internal error; see the gateway log (`sagepipe logs "
        "gateway`).")}
    assert "a bug of ours" not in reply.text and "Traceback" not in reply.text
    [record] = [r for r in caplog.records if r.name == "sagepipe.edge"]
    assert record.exc_info is not None and "a bug of ours" in str(record.exc_info[1])


def test_a_typed_error_is_answered_in_the_services_protocol(edge_app):
    app, credentials = edge_app
    reply = call(app, credentials, "DescribeImages")
    assert (reply.status_code, reply.json()["__type"]) == (404, "NoSuchKey")
    assert reply.headers["x-amzn-ErrorType"] == "NoSuchKey"
