"""Input checked against the operation's botocore model before any handler runs: required
members and types (botocore's own ParamValidator), plus what it leaves to the service: enums,
lengths, ranges and patterns."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator

from sagepipe.errors import AWSError

# The error code a service answers invalid input with: the one its model declares, else its
# protocol's usual one.
VALIDATION_CODES = ("ValidationException", "ValidationError")


def validation_code(model: ServiceModel, default: str) -> str:
    declared = {shape.name for shape in model.error_shapes}
    return next((code for code in VALIDATION_CODES if code in declared), default)


def validate_input(op: OperationModel, params: dict[str, Any], code: str) -> None:
    """AWSError `code` (400) naming the first broken constraint."""
    if op.input_shape is None:
        return
    report = ParamValidator().validate(params, op.input_shape)
    if report.has_errors():
        raise AWSError(code, report.generate_report())
    problem = _broken_constraint(params, op.input_shape, "")
    if problem:
        raise AWSError(code, problem)


def _broken_constraint(value: Any, shape: Shape, path: str) -> str | None:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                problem = _broken_constraint(value[name], member,
                                             f"{path}.{name}" if path else name)
                if problem:
                    return problem
    elif kind == "list" and isinstance(value, list):
        return _first(_broken_constraint(item, shape.member, f"{path}[{i}]")
                      for i, item in enumerate(value))
    elif kind == "map" and isinstance(value, dict):
        return _first(_broken_constraint(item, shape.value, f"{path}.{key}")
                      for key, item in value.items())
    elif kind == "string" and isinstance(value, str):
        return _string_problem(value, shape, path)
    elif kind in ("integer", "long") and isinstance(value, int):
        maximum = shape.metadata.get("max")
        if maximum is not None and value > maximum:
            return (f"Value '{value}' at '{path}' failed to satisfy constraint: Member must "
                    f"have value less than or equal to {maximum}")
    return None


def _first(problems: Any) -> str | None:
    return next((problem for problem in problems if problem), None)


def _string_problem(value: str, shape: Shape, path: str) -> str | None:
    meta = shape.metadata
    if shape.enum and value not in shape.enum:
        return (f"Value '{value}' at '{path}' failed to satisfy constraint: Member must "
                f"satisfy enum value set: [{', '.join(shape.enum)}]")
    if "max" in meta and len(value) > meta["max"]:
        return (f"Value at '{path}' failed to satisfy constraint: Member must have length "
                f"less than or equal to {meta['max']}")
    pattern = meta.get("pattern")
    if pattern and not _matches(pattern, value):
        return (f"Value '{value}' at '{path}' failed to satisfy constraint: Member must "
                f"satisfy regular expression pattern: {pattern}")
    return None


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct: leave that pattern to the real service
        return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None
