"""JSONPath filter expressions (`$.items[?(@.price < 10 && @.tags)]`), Jayway's subset.

A filter is `(expr)` where expr combines comparisons (`== != < <= > >=`) of `@`-relative or
`$`-rooted paths and literals with `&&`, `||`, `!` and parentheses; a bare path tests that the
field exists. Comparing values of different JSON types is false (`!=` true), never an error.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from typing import Any, NoReturn

from sagepipe.stepfunctions.asl.errors import PathNotFound, PathSyntaxError

_TOKEN = re.compile(r"""\s*(
    (?P<op>==|!=|<=|>=|<|>|&&|\|\||!|\(|\))
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<word>true|false|null)
  | (?P<path>[@$](?:\.\.?[^\s.\[\]()=!<>&|]+|\[(?:'[^']*'|"[^"]*"|[^\]])*\])*)
)""", re.VERBOSE)

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}
_MISSING = object()
Test = Callable[[Any, Any], Any]  # (node, root) -> value or truth


class Filter:
    """A compiled `[?(...)]`; `test(node, root)` says whether `node` passes."""

    def __init__(self, test: Test) -> None:
        self.test = test


def parse_filter(source: str, text: str, compile_path: Callable[[str], Any]) -> Filter:
    """Compile `(expr)`; `compile_path` compiles the paths inside it (`@.x` as `$.x`)."""
    parser = _Parser(_tokens(source, text), text, compile_path)
    test = parser.expression()
    if parser.pos != len(parser.tokens):
        parser.fail(f"unexpected '{parser.tokens[parser.pos][1]}'")
    return Filter(test)


def _tokens(source: str, text: str) -> list[tuple[str, str]]:
    tokens, pos, end = [], 0, len(source.rstrip())
    while pos < end:
        match = _TOKEN.match(source, pos)
        if not match or match.end() == pos:
            raise PathSyntaxError(f"'{text}' is not a valid JSONPath (its filter cannot be "
                                  f"read at '{source[pos:]}')")
        kind = next(name for name, value in match.groupdict().items() if value is not None)
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _either(left: Test, right: Test) -> Test:
    return lambda node, root: left(node, root) or right(node, root)


def _both(left: Test, right: Test) -> Test:
    return lambda node, root: left(node, root) and right(node, root)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str,
                 compile_path: Callable[[str], Any]) -> None:
        self.tokens, self.pos, self.text, self.compile_path = tokens, 0, text, compile_path

    def fail(self, why: str) -> NoReturn:
        raise PathSyntaxError(f"'{self.text}' is not a valid JSONPath ({why} in its filter)")

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            self.fail("an unfinished expression")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expression(self) -> Test:
        test = self._conjunction()
        while self._peek() == "||":
            self._take()
            test = _either(test, self._conjunction())
        return test

    def _conjunction(self) -> Test:
        test = self._unary()
        while self._peek() == "&&":
            self._take()
            test = _both(test, self._unary())
        return test

    def _unary(self) -> Test:
        if self._peek() == "!":
            self._take()
            inner = self._unary()
            return lambda node, root: not inner(node, root)
        if self._peek() == "(":
            self._take()
            inner = self.expression()
            if self._take()[1] != ")":
                self.fail("')' expected")
            return inner
        left = self._operand()
        if self._peek() in _COMPARE:
            compare = _COMPARE[self._take()[1]]
            right = self._operand()
            return lambda node, root: _compare(compare, left(node, root), right(node, root))
        return lambda node, root: left(node, root) is not _MISSING

    def _operand(self) -> Test:
        kind, value = self._take()
        if kind == "path":
            path, relative = self.compile_path("$" + value[1:]), value.startswith("@")

            def lookup(node: Any, root: Any) -> Any:
                try:
                    return path.find(node if relative else root)
                except PathNotFound:
                    return _MISSING
            return lookup
        if kind not in ("string", "number", "word"):
            self.fail(f"'{value}' is not a value")
        literal = json.loads(json.dumps(value[1:-1].replace("\\'", "'"))
                             if value.startswith("'") else value)
        return lambda node, root: literal


def _compare(compare: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    if left is _MISSING or right is _MISSING:
        return False
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if not numeric and type(left) is not type(right):
        return compare is operator.ne
    try:
        return compare(left, right)
    except TypeError:
        return False
