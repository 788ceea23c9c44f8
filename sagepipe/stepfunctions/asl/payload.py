"""A state's data flow: InputPath, payload templates (Parameters, ResultSelector, ItemSelector),
ResultPath, OutputPath, and the 256 KB limit on what a state passes on.

Templates are compiled once: every `"key.$"` becomes a compiled path or intrinsic call, so the
run-time work is a walk over the template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sagepipe.stepfunctions.asl.errors import (
    DATA_LIMIT_EXCEEDED,
    DataFlowError,
    PathNotFound,
    StatesError,
)
from sagepipe.stepfunctions.asl.intrinsics import Call, is_intrinsic, parse_call
from sagepipe.stepfunctions.asl.paths import Path, set_at

MAX_PAYLOAD_BYTES = 256 * 1024
ROOT = Path("$")


def to_json(value: Any) -> str:
    """JSON as Step Functions writes it in outputs and history: compact, UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def check_size(value: Any, what: str) -> Any:
    """`value`, unless its JSON exceeds 256 KB: then States.DataLimitExceeded (terminal)."""
    size = len(to_json(value).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise StatesError(DATA_LIMIT_EXCEEDED, f"{what} has a size of {size} bytes, more than "
                          f"the {MAX_PAYLOAD_BYTES} bytes Step Functions allows")
    return value


def compile_expression(text: str) -> Path | Call:
    """The value of a `"key.$"` field: a JSONPath or an intrinsic function call."""
    return parse_call(text) if is_intrinsic(text) else Path(text)


@dataclass(frozen=True)
class _Dynamic:
    field: str  # the key as written, `.$` included, for error messages
    expression: Path | Call


class Template:
    """A compiled payload template; `render(data, context)` builds the JSON it describes."""

    def __init__(self, template: Any) -> None:
        self.tree = _compile(template)

    def render(self, data: Any, context: Any) -> Any:
        return _render(self.tree, data, context)


def _compile(node: Any) -> Any:
    if isinstance(node, dict):
        return {(key[:-2] if key.endswith(".$") else key):
                _Dynamic(key, compile_expression(value)) if key.endswith(".$") else
                _compile(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_compile(item) for item in node]
    return node


def _render(node: Any, data: Any, context: Any) -> Any:
    if isinstance(node, dict):
        return {key: _render(value, data, context) for key, value in node.items()}
    if isinstance(node, list):
        return [_render(item, data, context) for item in node]
    if isinstance(node, _Dynamic):
        if isinstance(node.expression, Call):
            return node.expression.evaluate(data, context)
        try:
            return node.expression.find(data, context)
        except PathNotFound:
            source = context if node.expression.context else data
            raise DataFlowError(f"The JSONPath '{node.expression.text}' specified for the field "
                                f"'{node.field}' could not be found in the input "
                                f"'{to_json(source)}'") from None
    return node


def select(path: Path | None, data: Any, context: Any, field: str) -> Any:
    """InputPath / OutputPath: the selected part of `data`; a null path selects `{}`."""
    if path is None:
        return {}
    if path is ROOT:
        return data
    try:
        return path.find(data, context)
    except PathNotFound:
        raise DataFlowError(f"Invalid path '{path.text}' : No results for path: "
                            f"{_bracketed(path)} (the state's {field})") from None


def merge_result(path: Path | None, state_input: Any, result: Any) -> Any:
    """ResultPath: where the result goes in the state input (null: discard the result)."""
    if path is None:
        return state_input
    if path is ROOT:
        return result
    return set_at(path, state_input, result)


def _bracketed(path: Path) -> str:
    parts = [f"['{s.key}']" if hasattr(s, "key") else f"[{s.index}]" if hasattr(s, "index")
             else "" for s in path.steps]
    return ("$$" if path.context else "$") + "".join(parts)
