"""Turning Python values with placeholders into ASL.

A payload template (Parameters, ResultSelector) takes a placeholder in any field: the key gets the
`.$` suffix and the value becomes the placeholder's path. A list holding placeholders becomes a
`States.Array(...)` intrinsic, since ASL resolves `.$` keys only, never bare list items.

Every string is also checked for a placeholder joined into it in Python (`"s3://b/" + ph`,
f-strings, `%`): the error names the field and gives the `States.Format` that does the join.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ds_stepfunctions.inputs.placeholders import (
    MARKER,
    Array,
    Intrinsic,
    Reference,
    _Literal,
    escape_literal,
)


def render_payload(value: Any, where: str) -> Any:
    """A payload template as ASL: placeholders become `Key.$` entries, at any depth."""
    if isinstance(value, Mapping):
        rendered: dict[str, Any] = {}
        for key, item in value.items():
            field = f"{where}.{key}"
            if isinstance(item, Reference):
                rendered[f"{key}.$"] = item.to_jsonpath()
            elif isinstance(item, (list, tuple)) and _lists_reference(item):
                rendered[f"{key}.$"] = _as_array(item, field).to_jsonpath()
            else:
                rendered[key] = render_payload(item, field)
        return rendered
    if isinstance(value, (list, tuple)):
        return [render_payload(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Reference):
        raise TypeError(f"{where} is a placeholder where ASL needs an object or a literal "
                        f"({value.to_jsonpath()}): put it under a key")
    return render_value(value, where)


def render_value(value: Any, where: str) -> Any:
    """A literal JSON value: its strings checked for joined placeholders."""
    if isinstance(value, str):
        check_no_joined_placeholder(value, where)
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Reference):
        raise TypeError(f"{where} is a placeholder ({value.to_jsonpath()}), but this field "
                        "takes a literal value in ASL")
    if isinstance(value, (Mapping, list, tuple)):
        if _holds_reference(value if isinstance(value, (list, tuple)) else value.values()):
            raise TypeError(f"{where} holds a placeholder, which ASL does not resolve here; "
                            "only Parameters and ResultSelector take placeholders in objects")
        if isinstance(value, Mapping):
            return {k: render_value(v, f"{where}.{k}") for k, v in value.items()}
        return [render_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{where} is a {type(value).__name__}, which is not JSON "
                    "(a request takes dicts, lists, strings, numbers, booleans and placeholders)")


def render_path(value: Any, where: str) -> Any:
    """A path field (InputPath, Variable...): a placeholder stands for its path."""
    if isinstance(value, Reference):
        return value.to_jsonpath()
    return render_value(value, where)


def check_no_joined_placeholder(text: str, where: str) -> None:
    """Raise if `text` has a placeholder joined into it in Python, with the intrinsic to use."""
    if not MARKER.search(text):
        return
    literals = MARKER.split(text)[::2]
    paths = MARKER.findall(text)
    template = "{}".join(escape_literal(part) for part in literals)
    key = where.rsplit(".", 1)[-1]
    fix = Intrinsic("States.Format", _Literal(template), *map(_RawPath, paths)).to_jsonpath()
    python = ", ".join([repr(template), *(f"<placeholder {p}>" for p in paths)])
    raise TypeError(
        f"{where} is {text!r}: a placeholder was joined into a string in Python (+, f-string, % "
        "or format). Its value only exists when the workflow runs, so let Step Functions join it "
        f"with the States.Format intrinsic: give {key!r} the value "
        f"ds_stepfunctions.inputs.Format({python}), which emits "
        f'"{key}.$": "{fix}".')


class _RawPath(Reference):
    """A path read back from a marker."""

    def __init__(self, path: str) -> None:
        self.path = path

    def to_jsonpath(self) -> str:
        return self.path


def _holds_reference(items: Any) -> bool:
    for item in items:
        if isinstance(item, Reference):
            return True
        if isinstance(item, (list, tuple)) and _holds_reference(item):
            return True
        if isinstance(item, Mapping) and _holds_reference(item.values()):
            return True
    return False


def _lists_reference(items: Any) -> bool:
    """True if a list holds a placeholder as an item (or in a nested list), not in an object."""
    return any(isinstance(item, Reference)
               or (isinstance(item, (list, tuple)) and _lists_reference(item)) for item in items)


def _as_array(items: list[Any] | tuple[Any, ...], where: str) -> Array:
    """A list with placeholders as `States.Array(...)`; its items must be literals or lists."""
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            raise TypeError(f"{where}[{i}] is an object in a list that also holds placeholders; "
                            "ASL cannot build it at run time: pass the whole list as one "
                            "placeholder, or use placeholders only inside the objects")
        if isinstance(item, str):
            check_no_joined_placeholder(item, f"{where}[{i}]")
    return Array(*items)
