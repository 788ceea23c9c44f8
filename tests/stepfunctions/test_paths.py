"""JSONPath as Step Functions evaluates it: definite paths give the node, others a list."""

from __future__ import annotations

import pytest

from sagepipe.stepfunctions.asl.errors import PathNotFound, PathSyntaxError, StatesError
from sagepipe.stepfunctions.asl.paths import Path, reference_path, set_at

DOC = {
    "trainingMetrics": [{"MetricName": "validation:accuracy", "Value": 0.82},
                        {"MetricName": "train:accuracy", "Value": 0.9}],
    "a": [{"b": 1}, {"b": 5, "c": "x"}],
    "odd key": {"it's": 7},
    "n": None,
}


@pytest.mark.parametrize(("path", "expected"), [
    ("$", DOC),
    ("$.a[0].b", 1),  # moto's port returns [1] here
    ("$['a'][0]['b']", 1),
    ("$['trainingMetrics'][0]['Value']", 0.82),
    ('$["trainingMetrics"][1]["MetricName"]', "train:accuracy"),
    ("$.a[-1].c", "x"),
    ("$['odd key']['it\\'s']", 7),
    ("$.n", None),
    ("$.a[*].b", [1, 5]),
    ("$..b", [1, 5]),
    ("$.a[0:1]", [{"b": 1}]),
    ("$.a[0,1].b", [1, 5]),
    ("$.trainingMetrics[?(@.MetricName == 'train:accuracy')].Value", [0.9]),
    ("$.a[?(@.b > 2 && @.c)]", [{"b": 5, "c": "x"}]),
    ("$.a[?(@.b < 2 || @.c == 'y')]", [{"b": 1}]),
    ("$.a[?(!(@.b < 2))].b", [5]),
    ("$.a[?(@.b == 'a string')]", []),  # a type mismatch is false, not an error
    ("$.missing[*]", []),  # an indefinite path may match nothing
])
def test_find(path, expected):
    assert Path(path).find(DOC) == expected


def test_definite_paths_are_marked_as_such():
    assert Path("$['a'][0]['b']").definite and Path("$.a[0].b").is_reference
    assert not Path("$.a[*].b").definite
    assert not Path("$$.Execution.Id").is_reference


@pytest.mark.parametrize("path", ["$.nope", "$.a[2]", "$.a[0].b.c", "$.n.x"])
def test_a_definite_path_that_selects_nothing_raises(path):
    with pytest.raises(PathNotFound):
        Path(path).find(DOC)


def test_context_paths_read_the_context_object():
    context = {"Execution": {"Input": {"k": "v"}, "Id": "arn:x"}}
    assert Path("$$.Execution.Input['k']").find({}, context) == "v"
    assert Path("$$.Execution.Id").find({"Execution": "not this"}, context) == "arn:x"


@pytest.mark.parametrize("text", ["", "a.b", "$.a[", "$.a[?(@.b >)]", "$.a['b'", "$.a[1:2,3]",
                                  "$.a[x]", "$..", "$ .a"])
def test_invalid_paths_are_refused_with_the_text(text):
    with pytest.raises(PathSyntaxError, match="JSONPath"):
        Path(text)


@pytest.mark.parametrize("text", ["$.a[*]", "$..b", "$$.Execution.Input"])
def test_reference_paths_must_select_one_node_of_the_input(text):
    with pytest.raises(PathSyntaxError, match="reference path"):
        reference_path(text)


def test_set_at_creates_missing_objects_and_leaves_the_input_alone():
    data = {"a": {"keep": 1}}
    assert set_at(Path("$.a.b.c"), data, 9) == {"a": {"keep": 1, "b": {"c": 9}}}
    assert data == {"a": {"keep": 1}}
    assert set_at(Path("$.list[1]"), {"list": [1, 2]}, "x") == {"list": [1, "x"]}


@pytest.mark.parametrize(("data", "path"), [("text", "$.a"), ({"a": 3}, "$.a.b"),
                                            ({"list": []}, "$.list[0]")])
def test_set_at_a_place_that_cannot_hold_a_field_is_a_result_path_match_failure(data, path):
    with pytest.raises(StatesError) as failure:
        set_at(Path(path), data, 1)
    assert failure.value.error == "States.ResultPathMatchFailure"
