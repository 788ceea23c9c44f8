"""JSONPath as Step Functions evaluates it (Jayway's dialect, AWS's settings).

A *definite* path (names, quoted names and single indexes only: `$.a[0].b`, `$['a'][0]['b']`)
selects one node and yields it as is, scalar or not; an indefinite one (`[*]`, `..`, slices,
unions, filters) yields the list of what it matched. This is the rule moto's port breaks
(`$.a[0].b` returning `[v]`), which silently sends a numeric Choice to its Default.
`$$` paths read the context object. Reference paths (ResultPath and the like) are definite
paths without `$$`, and `set_at` writes through one, creating the missing objects on the way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sagepipe.stepfunctions.asl.errors import (
    RESULT_PATH_MATCH_FAILURE,
    PathNotFound,
    PathSyntaxError,
    StatesError,
)
from sagepipe.stepfunctions.asl.filters import Filter, parse_filter

_NAME = re.compile(r"[^.\[\]\s()'\"]+")
_INT = re.compile(r"-?\d+")
_SLICE = re.compile(r"(-?\d*):(-?\d*)(?::(-?\d+))?")


@dataclass(frozen=True)
class Name:
    key: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class Union:
    members: tuple[str | int, ...]


@dataclass(frozen=True)
class Descend:
    """`..`: the next step applied at every depth."""

    step: Any


class Path:
    """A compiled JSONPath; `find` applies it to a document (or to the context object)."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.startswith("$"):
            raise PathSyntaxError(f"'{text}' is not a JSONPath: it must start with '$'")
        self.text = text
        self.context = text.startswith("$$")
        self.steps = tuple(_parse_steps(text, 2 if self.context else 1))
        self.definite = all(isinstance(s, Name | Index) for s in self.steps)

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    @property
    def is_reference(self) -> bool:
        return self.definite and not self.context

    def find(self, data: Any, context: Any = None) -> Any:
        """The selected node (definite path) or list of nodes; PathNotFound if none."""
        root = context if self.context else data
        if self.definite:
            node = root
            for step in self.steps:
                node = _child(node, step)
            return node
        matches = [root]
        for step in self.steps:
            matches = [found for node in matches for found in _select(node, step, data)]
        return matches


def _child(node: Any, step: Name | Index) -> Any:
    if isinstance(step, Name) and isinstance(node, dict) and step.key in node:
        return node[step.key]
    if isinstance(step, Index) and isinstance(node, list) and -len(node) <= step.index < len(node):
        return node[step.index]
    raise PathNotFound(step)


def _select(node: Any, step: Any, root: Any) -> list[Any]:
    if isinstance(step, Name | Index):
        try:
            return [_child(node, step)]
        except PathNotFound:
            return []
    if isinstance(step, Wildcard):
        return list(node.values()) if isinstance(node, dict) else \
            list(node) if isinstance(node, list) else []
    if isinstance(step, Slice):
        return node[step.start:step.stop:step.step] if isinstance(node, list) else []
    if isinstance(step, Union):
        return [found for member in step.members for found in
                _select(node, Name(member) if isinstance(member, str) else Index(member), root)]
    if isinstance(step, Filter):
        children = node if isinstance(node, list) else \
            list(node.values()) if isinstance(node, dict) else []
        return [child for child in children if step.test(child, root)]
    return _descend(node, step.step, root)


def _descend(node: Any, step: Any, root: Any) -> list[Any]:
    found = _select(node, step, root)
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        found.extend(_descend(child, step, root))
    return found


def _parse_steps(text: str, pos: int) -> list[Any]:
    steps: list[Any] = []
    while pos < len(text):
        if text.startswith("..", pos):
            step, pos = _parse_step(text, pos + 2, after_dot=True)
            steps.append(Descend(step))
        elif text[pos] == ".":
            step, pos = _parse_step(text, pos + 1, after_dot=True)
            steps.append(step)
        elif text[pos] == "[":
            step, pos = _parse_step(text, pos, after_dot=False)
            steps.append(step)
        else:
            raise PathSyntaxError(f"'{text}' is not a valid JSONPath (unexpected "
                                  f"'{text[pos]}' at position {pos})")
    return steps


def _parse_step(text: str, pos: int, after_dot: bool) -> tuple[Any, int]:
    if after_dot and text.startswith("*", pos):
        return Wildcard(), pos + 1
    if after_dot and not text.startswith("[", pos):
        match = _NAME.match(text, pos)
        if not match:
            raise PathSyntaxError(f"'{text}' is not a valid JSONPath (a name is missing "
                                  f"at position {pos})")
        return Name(match.group()), match.end()
    end = _closing_bracket(text, pos)
    return _bracket(text[pos + 1:end].strip(), text), end + 1


def _closing_bracket(text: str, start: int) -> int:
    quote, depth = None, 0
    for pos in range(start, len(text)):
        char = text[pos]
        if quote:
            quote = None if char == quote and text[pos - 1] != "\\" else quote
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0:
                return pos
    raise PathSyntaxError(f"'{text}' is not a valid JSONPath (unclosed '[')")


def _bracket(inner: str, text: str) -> Any:
    if inner == "*":
        return Wildcard()
    if inner.startswith("?"):
        return parse_filter(inner[1:].strip(), text, Path)
    members = [_member(part.strip(), text) for part in _split_top(inner)]
    if len(members) == 1 and not isinstance(members[0], Slice):
        return Name(members[0]) if isinstance(members[0], str) else Index(members[0])
    if any(isinstance(m, Slice) for m in members):
        if len(members) > 1:
            raise PathSyntaxError(f"'{text}' is not a valid JSONPath (a slice in a union)")
        return members[0]
    return Union(tuple(m for m in members if not isinstance(m, Slice)))


def _member(part: str, text: str) -> str | int | Slice:
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"":
        return part[1:-1].replace("\\" + part[0], part[0])
    if _INT.fullmatch(part):
        return int(part)
    slice_match = _SLICE.fullmatch(part)
    if slice_match:
        start, stop, step = (int(g) if g else None for g in slice_match.groups())
        return Slice(start, stop, step)
    raise PathSyntaxError(f"'{text}' is not a valid JSONPath ('[{part}]' is neither a quoted "
                          "name, an index, a slice, '*' nor a filter)")


def _split_top(inner: str) -> list[str]:
    parts, quote, current = [], None, ""
    for char in inner:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current]


def reference_path(text: str) -> Path:
    """A path that must name one node of the state's data (ResultPath, ItemsPath, ...)."""
    path = Path(text)
    if not path.is_reference:
        raise PathSyntaxError(f"'{text}' is not a valid reference path: it must select one "
                              "node of the input (names and indexes only, no '$$')")
    return path


def set_at(path: Path, data: Any, value: Any) -> Any:
    """`data` with `value` written at the reference path `path` (data itself is not changed)."""
    return _set(data, path.steps, value, path.text)


def _set(node: Any, steps: tuple[Any, ...], value: Any, text: str) -> Any:
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if isinstance(step, Name) and (node is None or isinstance(node, dict)):
        copy = dict(node or {})
        copy[step.key] = _set(copy.get(step.key), rest, value, text)
        return copy
    if isinstance(step, Index) and isinstance(node, list) and \
            -len(node) <= step.index < len(node):
        items = list(node)
        items[step.index] = _set(items[step.index], rest, value, text)
        return items
    raise StatesError(RESULT_PATH_MATCH_FAILURE,
                      f"Unable to apply ResultPath '{text}' to the state's input: it does "
                      f"not lead to an object field or an existing array element")
