"""Placeholders: values a state machine only knows when it runs.

`ExecutionInput()["JobName"]` stands for `$$.Execution.Input['JobName']` and `step.output()["a"]`
for `$['a']`. Put one anywhere in a step's request and the step emits `"Key.$": "<path>"`.

A placeholder is not a string: `"s3://b/" + execution_input["k"]` cannot be resolved by Python.
Rather than embedding an object repr in the definition (what the old SDK did), joining one into a
string leaves a visible marker (`⟨$$.Execution.Input['k']⟩`) that the step rejects with the field's
name and the `States.Format` intrinsic that does the join at run time (`Format` below).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

MARKER_OPEN, MARKER_CLOSE = "⟨", "⟩"
MARKER = re.compile(f"{MARKER_OPEN}(.*?){MARKER_CLOSE}")


class ValidationResult(NamedTuple):
    valid: bool
    keys_missing: list[str]
    keys_type_mismatch: list[tuple[str, type, type]]


class Reference:
    """Something that Step Functions resolves at run time: a path or an intrinsic function."""

    def to_jsonpath(self) -> str:
        raise NotImplementedError

    # Joining a reference into a string leaves a marker that the step rejects (payload.py).
    def __str__(self) -> str:
        return f"{MARKER_OPEN}{self.to_jsonpath()}{MARKER_CLOSE}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __add__(self, other: object) -> str:
        if isinstance(other, str):
            return str(self) + other
        return NotImplemented

    def __radd__(self, other: object) -> str:
        if isinstance(other, str):
            return other + str(self)
        return NotImplemented


class Placeholder(Reference):
    """A collection of placeholder variables, or one variable in it (`collection["k"]`).

    With a `schema` ({"JobName": str, "Hyperparameters": {"eta": float}}) the collection is
    closed: reading a key outside it raises, and `validate()` checks an input against it.
    """

    path_prefix = "$"

    def __init__(self, schema: Mapping[str, Any] | None = None, *, name: str | int | None = None,
                 type: type | None = None, parent: Placeholder | None = None) -> None:
        self.store: dict[str | int, Placeholder] = {}
        self.name = name
        self.type = type
        self.parent = parent
        self.immutable = False
        self.schema = schema
        if schema:
            self._set_schema(schema)
            self._make_immutable()

    def get(self, name: str | int, type: type | None) -> Placeholder:
        """The variable `name`, declared with a type (an existing one must have the same)."""
        _check_name(name)
        if name in self.store:
            if self.store[name].type != type:
                raise ValueError(f"Key {name!r} already exists with type {self.store[name].type}")
            return self.store[name]
        return self._add(name, type)

    def __getitem__(self, name: str | int) -> Placeholder:
        _check_name(name)
        if name in self.store:
            return self.store[name]
        return self._add(name, None)

    def _add(self, name: str | int, type: type | None) -> Placeholder:
        if self.immutable:
            known = ", ".join(repr(k) for k in self.store) or "none"
            raise ValueError(f"{name!r} is not in the schema of {self.to_jsonpath()} "
                             f"(its keys: {known})")
        variable = self.__class__(name=name, type=type, parent=self)
        self.store[name] = variable
        return variable

    def contains(self, placeholder: Placeholder) -> bool:
        """True if `placeholder` is this collection's variable, at any depth."""
        return any(v is placeholder or v.contains(placeholder) for v in self.store.values())

    def get_schema_as_dict(self) -> dict[str | int, Any]:
        """The schema of the variables used so far: a type per leaf (`object` if untyped)."""
        return {k: (v.get_schema_as_dict() if v.store else v.type or object)
                for k, v in self.store.items()}

    def get_schema_as_json(self, pretty: bool = False) -> str:
        return json.dumps(_type_names(self.get_schema_as_dict()), indent=4 if pretty else None)

    def validate(self, input: Any) -> ValidationResult:
        """Check `input` against the schema: every leaf present and of its type (a leaf may be
        a whole object, `{"HyperParameters": dict}`: its value is not looked into)."""
        schema = _flatten(self.get_schema_as_dict())
        given = {k: v for k in schema if (v := _lookup(input, k.split("."))) is not _ABSENT}
        missing = [k for k in schema if k not in given]
        mismatched = [(k, schema[k], type(given[k])) for k in schema
                      if k in given and not _is_instance(given[k], schema[k])]
        return ValidationResult(not missing and not mismatched, missing, mismatched)

    def to_jsonpath(self) -> str:
        path = []
        node: Placeholder | None = self
        while node is not None and node.name is not None:
            path.append(f"[{node.name}]" if isinstance(node.name, int) else f"['{node.name}']")
            node = node.parent
        return self.path_prefix + "".join(reversed(path))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_jsonpath()!r})"

    def _set_schema(self, schema: Mapping[str, Any], path: tuple[str, ...] = ()) -> None:
        for key, value in schema.items():
            if isinstance(value, Mapping):
                self._set_schema(value, (*path, key))
            else:
                node = self
                for part in path:
                    node = node.get(part, dict)
                node.get(key, value)

    def _make_immutable(self) -> None:
        for variable in self.store.values():
            variable._make_immutable()
        self.immutable = True


class ExecutionInput(Placeholder):
    """The execution's input: `$$.Execution.Input['k']`, valid in every state."""

    path_prefix = "$$.Execution.Input"


class StepInput(Placeholder):
    """A state's input (the previous state's output): `$['k']`."""

    path_prefix = "$"


class Intrinsic(Reference):
    """An intrinsic function call, e.g. `States.Format('s3://b/{}', $$.Execution.Input['k'])`."""

    def __init__(self, function: str, *args: Any) -> None:
        self.function = function
        self.args = args

    def to_jsonpath(self) -> str:
        return f"{self.function}({', '.join(_intrinsic_arg(a) for a in self.args)})"

    def __repr__(self) -> str:
        return f"Intrinsic({self.to_jsonpath()!r})"


class Format(Intrinsic):
    """`States.Format(template, *values)`: join placeholders into a string at run time.

    `Format("s3://bucket/{}/output", execution_input["JobName"])` in a request emits
    `"S3OutputPath.$": "States.Format('s3://bucket/{}/output', $$.Execution.Input['JobName'])"`.
    """

    def __init__(self, template: str, *values: Any) -> None:
        # An escaped character is one token: `\{\}` is no hole, `\\{}` a backslash and a hole.
        holes = re.findall(r"\\.|\{\}", template).count("{}")
        if holes != len(values):
            raise ValueError(f"Format template {template!r} has {holes} '{{}}' for "
                             f"{len(values)} values")
        super().__init__("States.Format", _Literal(template), *values)


class Array(Intrinsic):
    """`States.Array(*values)`: a list whose items are resolved at run time."""

    def __init__(self, *values: Any) -> None:
        super().__init__("States.Array", *values)


class _Literal(str):
    """A Format template: already in intrinsic syntax, only quotes need escaping."""


def escape_literal(text: str) -> str:
    """Escape text for a Format template: its braces and backslashes are printed as they are."""
    return re.sub(r"([\\{}])", r"\\\1", text)


def _intrinsic_arg(value: Any) -> str:
    if isinstance(value, Reference):
        return value.to_jsonpath()
    if isinstance(value, _Literal):
        return "'" + value.replace("'", "\\'") + "'"
    if isinstance(value, str):
        if MARKER.search(value):
            raise TypeError(f"Intrinsic argument {value!r} joins a placeholder into a string; "
                            "pass the placeholder itself")
        return "'" + escape_literal(value).replace("'", "\\'") + "'"
    if isinstance(value, (list, tuple)):
        return Array(*value).to_jsonpath()
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    raise TypeError(f"{type(value).__name__} cannot be an intrinsic function argument")


def _check_name(name: object) -> None:
    if not isinstance(name, (str, int)) or isinstance(name, bool):
        raise ValueError(f"Placeholder keys are strings or integers, not {name!r}")


def _flatten(tree: Mapping[str | int, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


_ABSENT = object()


def _lookup(tree: Any, path: list[str]) -> Any:
    """The value at `path` (the keys of a flattened schema name) in `tree`, or _ABSENT."""
    for part in path:
        if not isinstance(tree, Mapping):
            return _ABSENT
        found = [value for key, value in tree.items() if str(key) == part]
        if not found:
            return _ABSENT
        tree = found[0]
    return tree


def _is_instance(value: Any, expected: type) -> bool:
    if expected is object:
        return True
    if isinstance(value, bool) and expected is not bool:  # JSON true is no number
        return False
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, expected)


def _type_names(schema: Mapping[str | int, Any]) -> dict[str | int, Any]:
    return {k: _type_names(v) if isinstance(v, Mapping) else getattr(v, "__name__", str(v))
            for k, v in schema.items()}
