"""SageMaker requests, checked against botocore's service model.

A SageMaker step sends one API request (CreateTrainingJob, CreateModel...) through Step Functions.
Its parameters are the boto3 request shape, so botocore's model tells which keys exist and which
are required: a typo (`VolumeSizeInGb`) fails when the step is built, not an hour into a run.

SageMaker Python SDK v3 objects are pydantic models with snake_case fields named after the same
API members (`volume_size_in_gb` -> `VolumeSizeInGB`); `to_request` turns one into its request
dict by that mapping, without importing `sagemaker`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.model import ListShape, MapShape, Shape, StructureShape

from ds_stepfunctions.inputs.placeholders import Reference


@cache
def _sagemaker() -> Any:
    """botocore's SageMaker service model, loaded once (it is large)."""
    return botocore.session.get_session().get_service_model("sagemaker")


def input_shape(operation: str) -> StructureShape:
    """The request shape of a SageMaker operation, e.g. `CreateTrainingJob`."""
    return _sagemaker().operation_model(operation).input_shape


def member_shape(operation: str, *path: str) -> Shape:
    """The shape at `path` in an operation's request (`"InputDataConfig"` -> the list)."""
    shape: Shape = input_shape(operation)
    for name in path:
        shape = shape.members[name] if isinstance(shape, StructureShape) else shape.member
    return shape


def check_request(operation: str, request: Mapping[str, Any], where: str) -> None:
    """Raise on unknown keys, missing required keys and wrongly typed literals."""
    _check(input_shape(operation), request, where)


_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "long": (int,), "boolean": (bool,),
    "float": (int, float), "double": (int, float),
}


def _check(shape: Shape, value: Any, where: str) -> None:
    if isinstance(value, Reference):
        return  # resolved at run time
    if isinstance(shape, StructureShape):
        if not isinstance(value, Mapping):
            raise TypeError(f"{where} is {value!r}; the API expects an object ({shape.name})")
        given = {key.removesuffix(".$") for key in value}
        for key, item in value.items():
            name = key.removesuffix(".$")
            if name not in shape.members:
                close = difflib.get_close_matches(name, list(shape.members), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{where} has {name!r}, which {shape.name} does not have.{hint} "
                                 f"Its keys: {', '.join(shape.members)}")
            if not key.endswith(".$"):
                _check(shape.members[name], item, f"{where}.{name}")
        missing = [m for m in shape.required_members if m not in given]
        if missing:
            raise ValueError(f"{where} lacks {', '.join(missing)}, required by {shape.name}")
    elif isinstance(shape, ListShape):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{where} is {value!r}; the API expects a list")
        for i, item in enumerate(value):
            _check(shape.member, item, f"{where}[{i}]")
    elif isinstance(shape, MapShape):
        if not isinstance(value, Mapping):
            raise TypeError(f"{where} is {value!r}; the API expects a map")
        for key, item in value.items():
            _check(shape.value, item, f"{where}.{key}")
    elif shape.type_name in _SCALARS:
        expected = _SCALARS[shape.type_name]
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            raise TypeError(f"{where} is {value!r}; the API expects a {shape.type_name}")


def to_request(value: Any, shape: Shape, where: str, strict: bool = True,
               exclude: frozenset[str] | set[str] = frozenset()) -> Any:
    """A v3 SDK object (or a plain value holding some) as the boto3 request value of `shape`.

    Unset fields (None, or sagemaker-core's `Unassigned()`) are left out. With `strict`, a field
    that the API shape does not have raises; without, it is skipped (a resource object read from
    AWS carries response-only fields such as its ARN). `exclude` names fields placed elsewhere.
    """
    if value is None or isinstance(value, (str, int, float, bool, Reference)):
        return value
    if isinstance(value, Mapping):
        return {k: to_request(v, _member(shape, k.removesuffix(".$")), f"{where}.{k}", strict)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        item = shape.member if isinstance(shape, ListShape) else shape
        return [to_request(v, item, f"{where}[{i}]", strict) for i, v in enumerate(value)]
    if not isinstance(shape, StructureShape) or not hasattr(type(value), "model_fields"):
        raise TypeError(f"{where} is a {type(value).__name__}, which is neither a request dict "
                        "nor a SageMaker SDK v3 object")
    members = {xform_name(name): name for name in shape.members}
    request = {}
    for field in type(value).model_fields:
        if field in exclude:
            continue
        item = getattr(value, field)
        if item is None or type(item).__name__ == "Unassigned":
            continue
        if field not in members:
            if strict:
                raise ValueError(f"{where}: {type(value).__name__}.{field} has no place in "
                                 f"{shape.name}")
            continue
        name = members[field]
        request[name] = to_request(item, shape.members[name], f"{where}.{name}", strict)
    return request


def _member(shape: Shape, name: str) -> Shape:
    if isinstance(shape, StructureShape) and name in shape.members:
        return shape.members[name]
    if isinstance(shape, MapShape):
        return shape.value
    return shape
