"""Serving under generated bad input: the example model's server itself, InvokeEndpoint in front
of it (the local SageMaker Runtime), and the Chalice API in front of that: the example model
trained once with real jobs and served once as an endpoint (serving_kit's session fixtures),
and by its own server (conftest.py).
Every answer is a 4xx (a model's refusal comes back as InvokeEndpoint's ModelError, 424), and
every request gets one."""

from __future__ import annotations

import importlib
import json
from urllib.parse import quote

import httpx
import pytest
from fuzz_kit import FUZZ, assert_client_error, header_text, json_values, send, text
from hypothesis import given
from hypothesis import strategies as st
from testkit import REPO, use_local_aws

from sagepipe.clients import SigV4

pytest_plugins = ["serving_kit"]
pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")

CONTENT_TYPES = ["text/csv", "application/json", "text/csv; charset=utf-8", "text/plain",
                 "application/jsonlines", "*/*", "", "text/csv;", "application/json; q=0"]
ACCEPTS = ["text/csv", "application/json", "*/*", "text/*", "application/xml", "",
           "text/csv;q=0", "application/json;q=abc", "*/*;q=0.5, text/csv"]
FIELDS = st.one_of(st.sampled_from(["1", "2", "3", "0", "4", "male", "female", "", "29", "-1",
                                    "nan", "inf", "1e308", "Pclass", "Sex", "Age", '"']), text)
csv_bodies = st.lists(st.lists(FIELDS, max_size=5).map(",".join), max_size=6).map(
    lambda rows: "\n".join(rows).encode())
json_bodies = st.one_of(
    st.fixed_dictionaries({"instances": st.lists(st.dictionaries(
        st.sampled_from(["Pclass", "Sex", "Age", "Name"]), json_values(4), max_size=4),
        max_size=4)}),
    st.fixed_dictionaries({"records": st.lists(json_values(4), max_size=4)}),
    json_values()).map(lambda value: json.dumps(value).encode())
bodies = st.one_of(csv_bodies, json_bodies, st.binary(max_size=200))


@pytest.fixture(scope="module")
def runtime_http(images):
    with httpx.Client(base_url=images.endpoint_url, auth=SigV4(images, "sagemaker"),
                      trust_env=False, timeout=90) as http:
        yield http


@FUZZ
@given(method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]),
       path=st.sampled_from(["/invocations", "/invocations", "/ping", "/", "/x"]),
       content_type=st.one_of(st.sampled_from(CONTENT_TYPES), header_text),
       accept=st.one_of(st.sampled_from(ACCEPTS), header_text), body=bodies)
def test_the_model_server(model_server, method, path, content_type, accept, body):
    response = send(model_server, method, path, content=body,
                    headers={"Content-Type": content_type, "Accept": accept})
    assert_client_error(response, f"{method} {path} {content_type!r} {accept!r} {body[:200]!r}")


@FUZZ
@given(data=st.data(), content_type=st.one_of(st.sampled_from(CONTENT_TYPES), header_text),
       accept=st.one_of(st.sampled_from(ACCEPTS), header_text),
       attributes=st.one_of(st.none(), header_text), body=bodies)
def test_invoke_endpoint(runtime_http, model_endpoint, data, content_type, accept, attributes,
                         body):
    name = data.draw(st.one_of(st.just(model_endpoint), st.just(model_endpoint), text))
    headers = {"Content-Type": content_type, "Accept": accept}
    if attributes is not None:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
    path = f"/endpoints/{quote(name, safe='')}/invocations"
    response = send(runtime_http, "POST", path, content=body, headers=headers)
    assert_client_error(response, f"{name!r} {headers} {body[:200]!r}")


@pytest.fixture(scope="module")
def api(images, model_endpoint):
    """The Chalice app configured for the endpoint, through chalice's test client (which lets
    IAM-authorized routes through: authentication is tested on the hosted API)."""
    from chalice.test import Client

    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(REPO / "chalice-api"))
        use_local_aws(patch, images, ENDPOINT_NAME=model_endpoint)
        app_module = importlib.import_module("app")
        app_module.aws.cache_clear()
        yield Client(app_module.app, stage_name="prod", project_dir=str(REPO / "chalice-api"))
        app_module.aws.cache_clear()


@FUZZ
@given(method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE"]),
       path=st.sampled_from(["/predict", "/predict", "/health", "/", "/nope"]),
       content_type=st.one_of(st.sampled_from(CONTENT_TYPES), header_text), body=bodies)
def test_the_chalice_api(api, method, path, content_type, body):
    response = api.http.request(method, path, headers={"Content-Type": content_type},
                                body=body)
    assert response.status_code < 500, (
        f"{method} {path} {content_type!r} {body[:200]!r}: {response.status_code} "
        f"{response.body[:300]!r}")
