"""The gateway's SageMaker (JSON 1.1) under generated bad input: for each operation, bodies built
from its input shape in botocore's model with values of the right type and of every wrong one,
and bodies that are not JSON at all. Every answer is a 4xx (or NotImplemented for an operation
not emulated), and every request gets one."""

from __future__ import annotations

import httpx
import orjson
import pytest
from fuzz_kit import FUZZ, assert_client_error, json_values, numbers, send, text
from hypothesis import given
from hypothesis import strategies as st

from sagepipe.clients import SigV4
from sagepipe.protocols.service_models import service_model

MODEL = service_model("sagemaker")


def values_of(shape, depth: int = 0) -> st.SearchStrategy:
    """Values for a member: of its type (with its model's bounds ignored, so out-of-range ones
    come too) or of any other JSON type."""
    wrong = json_values(max_leaves=4)
    kind = shape.type_name
    if depth > 3:
        return wrong
    if kind == "structure":
        right = st.fixed_dictionaries({}, optional={
            name: values_of(member, depth + 1) for name, member in shape.members.items()})
    elif kind == "list":
        right = st.lists(values_of(shape.member, depth + 1), max_size=3)
    elif kind == "map":
        right = st.dictionaries(text, values_of(shape.value, depth + 1), max_size=3)
    elif kind in ("integer", "long", "float", "double", "timestamp"):
        right = numbers
    elif kind == "boolean":
        right = st.booleans()
    else:
        right = st.one_of(text, st.sampled_from(shape.enum)) if shape.enum else text
    return st.one_of(*[right] * 9, wrong)  # mostly the right type, so deeper checks run too


@pytest.fixture(scope="module")
def sagemaker_http(fuzz_aws):
    with httpx.Client(base_url=fuzz_aws.endpoint_url, auth=SigV4(fuzz_aws, "sagemaker"),
                      trust_env=False, timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def emulated(sagemaker_http) -> list[str]:
    """The operations the local SageMaker serves (the others answer NotImplemented before
    reading their input). A generated body that happens to be valid creates a resource in this
    suite's own local AWS, which is harmless."""
    return [name for name in MODEL.operation_names
            if call(sagemaker_http, name, b"{}").status_code != 501]


def call(http: httpx.Client, operation: str, body: bytes) -> httpx.Response:
    return send(http, "POST", "/", content=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"SageMaker.{operation}"})


@FUZZ
@given(data=st.data())
def test_generated_bodies_of_each_operation(sagemaker_http, emulated, data):
    operation = data.draw(st.sampled_from(emulated))
    shape = MODEL.operation_model(operation).input_shape
    params = data.draw(values_of(shape) if shape is not None else json_values())
    body = orjson.dumps(params, option=orjson.OPT_NON_STR_KEYS) if _encodable(params) else b"{}"
    assert_client_error(call(sagemaker_http, operation, body), f"{operation} {body[:300]!r}")


@FUZZ
@given(operation=st.one_of(st.sampled_from(MODEL.operation_names), text),
       body=st.one_of(st.binary(max_size=100), st.sampled_from(
           [b"", b"{", b"[]", b"null", b'"x"', b"1e999", b'{"a":' * 200 + b"1" + b"}" * 200,
            b'{"NextToken": "' + b"9" * 5000 + b'"}', '{"NextToken": "²"}'.encode()])))
def test_bodies_that_are_not_what_json_expects(sagemaker_http, operation, body):
    target = "".join(c for c in operation if c.isascii() and c.isprintable())
    response = send(sagemaker_http, "POST", "/", content=body, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"SageMaker.{target}".strip()})
    assert_client_error(response, f"{operation} {body[:200]!r}")


def _encodable(value) -> bool:
    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True
