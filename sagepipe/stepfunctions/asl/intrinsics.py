"""Intrinsic function calls (`States.Format('{}-{}', $.a, States.UUID())`): the parser.

Calls are compiled once, when the definition is parsed, so a malformed call or a wrong count of
arguments is a validation error at create time. A call that fails on its data at run time
(a template whose `{}` do not match its arguments, an index out of range, text that is not JSON)
fails the state with `States.Runtime`, as AWS reports every data-flow evaluation error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from sagepipe.stepfunctions.asl.errors import PathNotFound, PathSyntaxError
from sagepipe.stepfunctions.asl.functions import FUNCTIONS, IntrinsicRuntimeError, Literal
from sagepipe.stepfunctions.asl.paths import Path

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class IntrinsicSyntaxError(ValueError):
    """The text is not a well-formed intrinsic function call."""


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    text: str

    def evaluate(self, data: Any, context: Any) -> Any:
        values = [_evaluate_arg(arg, data, context, self.text) for arg in self.args]
        return FUNCTIONS[self.name].run(self, values)


def _evaluate_arg(arg: Any, data: Any, context: Any, text: str) -> Any:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, Call):
        return arg.evaluate(data, context)
    try:
        return arg.find(data, context)
    except PathNotFound:
        raise IntrinsicRuntimeError(text, f"the JSONPath '{arg.text}' could not be found in "
                                    "the input") from None


def is_intrinsic(text: str) -> bool:
    return text.startswith("States.")


def parse_call(text: str) -> Call:
    """Compile `States.Name(args)`; IntrinsicSyntaxError names what is wrong."""
    call, end = _Reader(text).call(0)
    if text[end:].strip():
        raise IntrinsicSyntaxError(f"'{text}': unexpected text after the call: '{text[end:]}'")
    return call


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, why: str) -> NoReturn:
        raise IntrinsicSyntaxError(f"'{self.text}' is not a valid intrinsic function call: "
                                   f"{why}")

    def call(self, pos: int) -> tuple[Call, int]:
        match = re.compile(r"\s*(States\.[A-Za-z0-9]+)\s*\(").match(self.text, pos)
        if not match:
            self.fail(f"a call 'States.Name(...)' is expected at position {pos}")
        name, pos, args = match.group(1), match.end(), []
        if name not in FUNCTIONS:
            self.fail(f"'{name}' is not an intrinsic function")
        pos = self._skip(pos)
        if self.text.startswith(")", pos):
            pos += 1
        else:
            while True:
                arg, pos = self.argument(self._skip(pos))
                args.append(arg)
                pos = self._skip(pos)
                if self.text.startswith(")", pos):
                    pos += 1
                    break
                if not self.text.startswith(",", pos):
                    self.fail(f"',' or ')' expected at position {pos}")
                pos += 1
        call = Call(name, tuple(args), self.text[match.start(1):pos])
        FUNCTIONS[name].check(call, self.fail)
        return call, pos

    def _skip(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos].isspace():
            pos += 1
        return pos

    def argument(self, pos: int) -> tuple[Any, int]:
        rest = self.text[pos:]
        if rest.startswith("'"):
            return self._string(pos)
        if rest.startswith("States."):
            return self.call(pos)
        if rest.startswith("$"):
            end = self._path_end(pos)
            try:
                return Path(self.text[pos:end].strip()), end
            except PathSyntaxError as error:
                self.fail(str(error))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if re.match(word + r"\b", rest):
                return Literal(value, word), pos + len(word)
        number = _NUMBER.match(rest)
        if number:
            raw = number.group()
            return Literal(json.loads(raw), raw), pos + len(raw)
        self.fail(f"an argument is expected at position {pos}")
        raise AssertionError  # fail() raises

    def _string(self, pos: int) -> tuple[Literal, int]:
        end, chars = pos + 1, []
        while end < len(self.text) and self.text[end] != "'":
            if self.text[end] == "\\" and end + 1 < len(self.text):
                chars.append(self.text[end + 1])
                end += 2
            else:
                chars.append(self.text[end])
                end += 1
        if end >= len(self.text):
            self.fail("a string is not closed with \"'\"")
        return Literal("".join(chars), self.text[pos + 1:end]), end + 1

    def _path_end(self, pos: int) -> int:
        depth, quote = 0, None
        for end in range(pos, len(self.text)):
            char = self.text[end]
            if quote:
                quote = None if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])" and depth:
                depth -= 1
            elif char in ",)" and depth == 0:
                return end
        return len(self.text)


