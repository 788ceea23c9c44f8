"""Each intrinsic function, its argument rules, and its failures."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from sagepipe.stepfunctions.asl.errors import StatesError
from sagepipe.stepfunctions.asl.intrinsics import IntrinsicSyntaxError, parse_call

DATA = {"name": "Ada", "n": 3, "list": [1, 2, 2, 3, 1], "json": '{"k":[1,true]}',
        "obj": {"a": 1, "b": {"x": 1}}, "other": {"b": {"y": 2}, "c": 3}, "text": "a,b;;c"}
CONTEXT = {"Execution": {"Name": "run-1"}}


def call(text: str):
    return parse_call(text).evaluate(DATA, CONTEXT)


@pytest.mark.parametrize(("text", "expected"), [
    ("States.Format('Hello {} from {}', $.name, $$.Execution.Name)", "Hello Ada from run-1"),
    ("States.Format('{} {} {} {}', $.n, true, null, 'x')", "3 true null x"),
    ("States.Format('\\{\\} and {}', $.name)", "{} and Ada"),
    ("States.Format('it\\'s {}', States.ArrayLength($.list))", "it's 5"),
    ("States.StringToJson($.json)", {"k": [1, True]}),
    ("States.JsonToString($.obj)", '{"a":1,"b":{"x":1}}'),
    ("States.Array(1, 'two', $.n, States.Array())", [1, "two", 3, []]),
    ("States.ArrayPartition($.list, 2)", [[1, 2], [2, 3], [1]]),
    ("States.ArrayContains($.list, 3)", True),
    ("States.ArrayContains($.list, 9)", False),
    ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
    ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
    ("States.ArrayGetItem($.list, 3)", 3),
    ("States.ArrayLength($.list)", 5),
    ("States.ArrayUnique($.list)", [1, 2, 3]),
    ("States.Base64Encode($.name)", base64.b64encode(b"Ada").decode()),
    ("States.Base64Decode('QWRh')", "Ada"),
    ("States.Hash($.name, 'SHA-256')", hashlib.sha256(b"Ada").hexdigest()),
    ("States.Hash('x', 'MD5')", hashlib.md5(b"x").hexdigest()),
    ("States.JsonMerge($.obj, $.other, false)", {"a": 1, "b": {"y": 2}, "c": 3}),
    ("States.MathAdd($.n, -5)", -2),
    ("States.StringSplit($.text, ',;')", ["a", "b", "c"]),
])
def test_function(text, expected):
    assert call(text) == expected


def test_math_random_stays_in_range_and_a_seed_repeats():
    values = {call("States.MathRandom(1, 4)") for _ in range(50)}
    assert values <= {1, 2, 3}
    assert call("States.MathRandom(1, 1000, 7)") == call("States.MathRandom(1, 1000, 7)")


def test_uuid_is_a_version_4_uuid():
    value = call("States.UUID()")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        value)
    assert value != call("States.UUID()")


@pytest.mark.parametrize(("text", "message"), [
    ("States.Nope()", "'States.Nope' is not an intrinsic function"),
    ("States.Format('{} {}', $.name)", "the template has 2 '{}' but 1 argument"),
    ("States.ArrayLength($.list, 1)", "takes 1 argument"),
    ("States.UUID(1)", "takes 0 argument"),
    ("States.ArrayRange(1, 2)", "takes 3 argument"),
    ("States.JsonToString('x')", "must be a path"),
    ("States.Format('unclosed)", "not closed"),
    ("States.ArrayLength($.list", "',' or ')' expected"),
    ("States.ArrayLength($.a[)", "not a valid JSONPath"),
    ("States.Array() trailing", "unexpected text"),
])
def test_malformed_calls_are_refused_when_compiled(text, message):
    with pytest.raises(IntrinsicSyntaxError, match=re.escape(message)):
        parse_call(text)


@pytest.mark.parametrize(("text", "message"), [
    ("States.ArrayGetItem($.list, 5)", "index 5 is out of range"),
    ("States.ArrayPartition($.list, 0)", "greater than 0"),
    ("States.ArrayRange(1, 5, 0)", "must not be 0"),
    ("States.ArrayRange(0, 5000, 1)", "more than 1000 items"),
    ("States.StringToJson($.name)", "not JSON"),
    ("States.Base64Decode('%%%')", "not base64"),
    ("States.Hash($.name, 'SHA-3')", "must be one of MD5"),
    ("States.JsonMerge($.obj, $.other, true)", "shallow merge"),
    ("States.MathAdd($.name, 1)", "must be an integer"),
    ("States.ArrayLength($.name)", "must be an array"),
    ("States.Format('{}', $.obj)", "not objects or arrays"),
    ("States.MathRandom(5, 5)", "less than the end"),
    ("States.ArrayLength($.absent)", "could not be found"),
])
def test_failures_on_data_are_states_runtime_errors_naming_the_call(text, message):
    with pytest.raises(StatesError) as failure:
        call(text)
    assert failure.value.error == "States.Runtime"
    assert text in failure.value.cause and message in failure.value.cause


def test_text_limits():
    with pytest.raises(StatesError, match="longer than 10000"):
        parse_call("States.Base64Encode($.big)").evaluate({"big": "x" * 10001}, {})
