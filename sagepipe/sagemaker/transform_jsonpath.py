"""The JSONPath of batch transform's DataProcessing filters, as SageMaker defines it.

SageMaker supports a subset of JSONPath for InputFilter and OutputFilter ("Supported JSONPath
Operators", docs batch-transform-data-processing): `$`, `.name`, `*`, `['a','b']`, `[1]`,
`[1,3,5]` (negative indexes count from the end) and the slice `[start:end]`, whose end is
*inclusive* ("`$[1:4]` specifies the second through fifth columns"). A CSV record is read as an
array of its columns. This is not the Step Functions dialect (`stepfunctions/asl/paths.py`:
Jayway's, with exclusive slices, filters and `..`), hence its own small module.

A path made of names and single indexes selects one value; `*`, several indexes or a slice
select a list; several quoted names select an object with those members (as Jayway does), so
`$['id','SageMakerOutput']` keeps two fields of a joined record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)")
_BRACKET = re.compile(r"\.?\[([^\]]*)\]")
_INDEX = re.compile(r"\s*-?\d+\s*")
_SLICE = re.compile(r"\s*(-?\d*)\s*:\s*(-?\d*)\s*")
_QUOTED = re.compile(r"\s*'([^']*)'\s*")


class PathError(ValueError):
    """A filter that is not in SageMaker's JSONPath subset, or that a record does not fit."""


@dataclass(frozen=True)
class _Names:
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Indexes:
    indexes: tuple[int, ...]


@dataclass(frozen=True)
class _Slice:
    start: int | None
    end: int | None  # inclusive


@dataclass(frozen=True)
class _Wildcard:
    pass


_Step = _Names | _Indexes | _Slice | _Wildcard


class JsonPath:
    """A compiled filter; `select(value)` applies it to one record."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.steps = _parse(text)

    @property
    def is_root(self) -> bool:
        """`$` (or empty, the API's default): the record as it is."""
        return not self.steps

    def select(self, value: Any) -> Any:
        selected, many = [value], False
        for step in self.steps:
            if isinstance(step, _Names) and len(step.names) > 1:
                selected = [{n: _member(v, n, self.text) for n in step.names} for v in selected]
                continue
            single = isinstance(step, _Names) or (isinstance(step, _Indexes)
                                                  and len(step.indexes) == 1)
            many = many or not single
            selected = [item for v in selected for item in self._apply(step, v)]
        return selected if many else selected[0]

    def _apply(self, step: _Step, value: Any) -> list[Any]:
        if isinstance(step, _Names):
            return [_member(value, step.names[0], self.text)]
        if isinstance(step, _Wildcard):
            if isinstance(value, dict):
                return list(value.values())
            if isinstance(value, list):
                return list(value)
            raise PathError(f"{self.text}: `*` needs an object or an array, the record has "
                            f"{_kind(value)}")
        if not isinstance(value, list):
            raise PathError(f"{self.text}: an index needs an array, the record has "
                            f"{_kind(value)}")
        if isinstance(step, _Indexes):
            for index in step.indexes:
                if not -len(value) <= index < len(value):
                    raise PathError(f"{self.text}: index {index} is out of range for "
                                    f"{len(value)} element(s)")
            return [value[index] for index in step.indexes]
        end = None if step.end is None or step.end == -1 else step.end + 1
        return value[step.start:end]


def _member(value: Any, name: str, text: str) -> Any:
    if not isinstance(value, dict):
        raise PathError(f"{text}: field {name!r} needs an object, the record has "
                        f"{_kind(value)}")
    if name not in value:
        raise PathError(f"{text}: the record has no field {name!r}")
    return value[name]


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array (a CSV record is an array of its columns)"
    return "an object" if isinstance(value, dict) else f"the scalar {value!r}"


def _parse(text: str) -> list[_Step]:
    if text in ("", "$"):
        return []
    if not text.startswith("$"):
        raise PathError(f"{text!r} is not a JSONPath: it must start with '$'")
    steps: list[_Step] = []
    pos = 1
    while pos < len(text):
        if text.startswith(".*", pos):
            steps.append(_Wildcard())
            pos += 2
        elif found := _NAME.match(text, pos):
            steps.append(_Names((found.group(1),)))
            pos = found.end()
        elif found := _BRACKET.match(text, pos):
            steps.append(_bracket(found.group(1), text))
            pos = found.end()
        else:
            raise PathError(f"{text!r}: cannot read {text[pos:]!r}; SageMaker's filters support "
                            "$, .name, *, ['name',...], [index,...] and [start:end]")
    return steps


def _bracket(inner: str, text: str) -> _Step:
    if inner.strip() == "*":
        return _Wildcard()
    if found := _SLICE.fullmatch(inner):
        start, end = (int(part) if part else None for part in found.groups())
        return _Slice(start, end)
    parts = inner.split(",")
    if all(_INDEX.fullmatch(part) for part in parts):
        return _Indexes(tuple(int(part) for part in parts))
    quoted = [_QUOTED.fullmatch(part) for part in parts]
    if all(quoted):
        return _Names(tuple(q.group(1) for q in quoted if q))
    raise PathError(f"{text!r}: [{inner}] is neither indexes, a slice nor quoted names")
