"""The intrinsic functions themselves, with AWS's argument rules.

Each takes the evaluated arguments; a value of the wrong JSON type, or out of AWS's limits
(10,000 characters for Base64 and Hash input, 1,000 items from ArrayRange, shallow JsonMerge
only), fails the state with `States.Runtime` naming the call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sagepipe.stepfunctions.asl.errors import DataFlowError
from sagepipe.stepfunctions.asl.paths import Path

if TYPE_CHECKING:
    from sagepipe.stepfunctions.asl.intrinsics import Call

_PLACEHOLDER = re.compile(r"(?<!\\)\{\}")
MAX_TEXT = 10000
MAX_RANGE_ITEMS = 1000


class IntrinsicRuntimeError(DataFlowError):
    def __init__(self, call: str, why: str) -> None:
        super().__init__(f"The function '{call}' failed: {why}")


@dataclass(frozen=True)
class Literal:
    value: Any
    raw: str  # a string literal as written, escapes included: States.Format needs them


@dataclass(frozen=True)
class Function:
    min_args: int
    max_args: int | None
    impl: Callable[[Call, list[Any]], Any]
    check_extra: Callable[[Call, Callable[[str], None]], None] | None = None

    def check(self, call: Call, fail: Callable[[str], None]) -> None:
        count = len(call.args)
        if count < self.min_args or (self.max_args is not None and count > self.max_args):
            wanted = str(self.min_args) if self.min_args == self.max_args else \
                f"{self.min_args} or more" if self.max_args is None else \
                f"{self.min_args} to {self.max_args}"
            fail(f"{call.name} takes {wanted} argument(s), not {count}")
        if self.check_extra:
            self.check_extra(call, fail)

    def run(self, call: Call, values: list[Any]) -> Any:
        return self.impl(call, values)


def _need(call: Call, value: Any, kind: type, what: str) -> Any:
    """`value` if it is of JSON type `kind` (booleans are not integers here), else fail."""
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise IntrinsicRuntimeError(call.text, f"{what} must be {_KIND_NAMES[kind]}, not "
                                    f"{json.dumps(value)}")
    return value


_KIND_NAMES = {str: "a string", int: "an integer", list: "an array", dict: "an object",
               bool: "a boolean"}


def _text(call: Call, value: Any, what: str) -> str:
    _need(call, value, str, what)
    if len(value) > MAX_TEXT:
        raise IntrinsicRuntimeError(call.text, f"{what} is longer than {MAX_TEXT} characters")
    return value


def _format(call: Call, values: list[Any]) -> str:
    template = call.args[0].raw if isinstance(call.args[0], Literal) else \
        _need(call, values[0], str, "the template")
    pieces = _PLACEHOLDER.split(template)
    if len(pieces) - 1 != len(values) - 1:
        raise IntrinsicRuntimeError(call.text, f"the template has {len(pieces) - 1} '{{}}' but "
                                    f"{len(values) - 1} argument(s) follow it")
    out = [_unescape(pieces[0])]
    for value, piece in zip(values[1:], pieces[1:], strict=True):
        if isinstance(value, dict | list):
            raise IntrinsicRuntimeError(call.text, "arguments must be strings, numbers, "
                                        "booleans or null, not objects or arrays")
        out += [value if isinstance(value, str) else json.dumps(value), _unescape(piece)]
    return "".join(out)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _check_format(call: Call, fail: Callable[[str], None]) -> None:
    template = call.args[0]
    if isinstance(template, Literal):
        if not isinstance(template.value, str):
            fail("the first argument of States.Format must be a string")
        elif len(_PLACEHOLDER.findall(template.raw)) != len(call.args) - 1:
            fail(f"the template has {len(_PLACEHOLDER.findall(template.raw))} '{{}}' but "
                 f"{len(call.args) - 1} argument(s) follow it")


def _check_json_to_string(call: Call, fail: Callable[[str], None]) -> None:
    if not isinstance(call.args[0], Path):
        fail("the argument of States.JsonToString must be a path")


def _string_to_json(call: Call, values: list[Any]) -> Any:
    try:
        return json.loads(_need(call, values[0], str, "the argument"))
    except json.JSONDecodeError as error:
        raise IntrinsicRuntimeError(call.text, f"the string is not JSON ({error})") from None


def _partition(call: Call, values: list[Any]) -> list[list[Any]]:
    items = _need(call, values[0], list, "the first argument")
    size = _need(call, values[1], int, "the chunk size")
    if size <= 0:
        raise IntrinsicRuntimeError(call.text, "the chunk size must be greater than 0")
    return [items[i:i + size] for i in range(0, len(items), size)]


def _range(call: Call, values: list[Any]) -> list[int]:
    start, end, step = (_need(call, v, int, "each argument") for v in values)
    if step == 0:
        raise IntrinsicRuntimeError(call.text, "the step must not be 0")
    items = list(range(start, end + (1 if step > 0 else -1), step))
    if len(items) > MAX_RANGE_ITEMS:
        raise IntrinsicRuntimeError(call.text, f"the range has more than {MAX_RANGE_ITEMS} items")
    return items


def _get_item(call: Call, values: list[Any]) -> Any:
    items = _need(call, values[0], list, "the first argument")
    index = _need(call, values[1], int, "the index")
    if not 0 <= index < len(items):
        raise IntrinsicRuntimeError(call.text, f"index {index} is out of range for an array of "
                                    f"{len(items)} items")
    return items[index]


def _unique(call: Call, values: list[Any]) -> list[Any]:
    seen, out = set(), []
    for item in _need(call, values[0], list, "the argument"):
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _base64_decode(call: Call, values: list[Any]) -> str:
    try:
        return base64.b64decode(_text(call, values[0], "the argument"), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise IntrinsicRuntimeError(call.text, f"the string is not base64 text ({error})") \
            from None


HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
          "SHA-512": "sha512"}


def _hash(call: Call, values: list[Any]) -> str:
    data = values[0] if isinstance(values[0], str) else json.dumps(values[0],
                                                                   separators=(",", ":"))
    algorithm = _need(call, values[1], str, "the algorithm")
    if algorithm not in HASHES:
        raise IntrinsicRuntimeError(call.text, f"the algorithm must be one of "
                                    f"{', '.join(HASHES)}, not '{algorithm}'")
    return hashlib.new(HASHES[algorithm], _text(call, data, "the data").encode()).hexdigest()


def _merge(call: Call, values: list[Any]) -> dict:
    left, right = (_need(call, v, dict, "the objects to merge") for v in values[:2])
    if _need(call, values[2], bool, "the deep-merge flag"):
        raise IntrinsicRuntimeError(call.text, "only a shallow merge is supported: the third "
                                    "argument must be false")
    return {**left, **right}


def _random(call: Call, values: list[Any]) -> int:
    start, end = (_need(call, v, int, "the range bounds") for v in values[:2])
    if start >= end:
        raise IntrinsicRuntimeError(call.text, "the start must be less than the end")
    seed = _need(call, values[2], int, "the seed") if len(values) > 2 else None
    return random.Random(seed).randrange(start, end)  # noqa: S311 - not for security


def _split(call: Call, values: list[Any]) -> list[str]:
    text = _need(call, values[0], str, "the string")
    delimiters = _need(call, values[1], str, "the delimiter")
    pattern = "[" + re.escape(delimiters) + "]" if delimiters else None
    return [part for part in (re.split(pattern, text) if pattern else [text]) if part]


FUNCTIONS: dict[str, Function] = {
    "States.Format": Function(1, None, _format, _check_format),
    "States.StringToJson": Function(1, 1, _string_to_json),
    "States.JsonToString": Function(1, 1, lambda c, v: json.dumps(v[0], separators=(",", ":")),
                                    _check_json_to_string),
    "States.Array": Function(0, None, lambda c, v: list(v)),
    "States.ArrayPartition": Function(2, 2, _partition),
    "States.ArrayContains": Function(2, 2, lambda c, v: v[1] in _need(c, v[0], list,
                                                                      "the first argument")),
    "States.ArrayRange": Function(3, 3, _range),
    "States.ArrayGetItem": Function(2, 2, _get_item),
    "States.ArrayLength": Function(1, 1, lambda c, v: len(_need(c, v[0], list, "the argument"))),
    "States.ArrayUnique": Function(1, 1, _unique),
    "States.Base64Encode": Function(1, 1, lambda c, v: base64.b64encode(
        _text(c, v[0], "the argument").encode()).decode()),
    "States.Base64Decode": Function(1, 1, _base64_decode),
    "States.Hash": Function(2, 2, _hash),
    "States.JsonMerge": Function(3, 3, _merge),
    "States.MathRandom": Function(2, 3, _random),
    "States.MathAdd": Function(2, 2, lambda c, v: sum(_need(c, x, int, "each argument")
                                                      for x in v)),
    "States.StringSplit": Function(2, 2, _split),
    "States.UUID": Function(0, 0, lambda c, v: str(uuid.uuid4())),
}
