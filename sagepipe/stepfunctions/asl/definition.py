"""Parse and validate a definition: the one entry point for CreateStateMachine,
UpdateStateMachine and ValidateStateMachineDefinition.

`validate_definition` returns every problem as a Diagnostic (ValidateStateMachineDefinition's
shape); `parse_definition` returns the compiled machine or raises DefinitionError, whose text
is CreateStateMachine's `Invalid State Machine Definition: 'CODE: message at /States/X/Field,
...'`. Checks are AWS's at create time: fields per state type, values, paths and intrinsics,
Retry/Catch rules, transitions to missing states and unreachable states.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sagepipe.stepfunctions.asl.compiler import compile_scope
from sagepipe.stepfunctions.asl.errors import DefinitionError, Diagnostic
from sagepipe.stepfunctions.asl.machine import StateMachine
from sagepipe.stepfunctions.asl.schema import Checker, Fields, check_query_language

MISSING_TARGET = "MISSING_TRANSITION_TARGET"
TOP_LEVEL_FIELDS = frozenset({"Version", "TimeoutSeconds", "QueryLanguage"})
# Given a Task's Resource, a reason it cannot run here (None: it can); see integrations.py.
ResourceCheck = Callable[[str], str | None]


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise _DuplicateKey(key)
    return dict(pairs)


def validate_definition(text: str, resource_check: ResourceCheck | None = None,
                        ) -> tuple[list[Diagnostic], StateMachine | None]:
    """Every problem of the definition, and the compiled machine when there is none."""
    check = Checker()
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as key:
        check.error("/", f"Duplicate field '{key}'", code="INVALID_JSON_DESCRIPTION")
        return check.diagnostics, None
    except (json.JSONDecodeError, TypeError) as error:
        check.error("/", f"The definition is not valid JSON: {error}",
                    code="INVALID_JSON_DESCRIPTION")
        return check.diagnostics, None
    if not isinstance(raw, dict):
        check.error("/", "The definition must be a JSON object with StartAt and States")
        return check.diagnostics, None
    check_query_language(raw, "", check)
    timeout = Fields(raw, "", check).integer("TimeoutSeconds", 1)
    root = compile_scope(raw, "", check, TOP_LEVEL_FIELDS)
    _check_transitions(raw, "", check, {})
    if resource_check:
        _check_resources(raw, "", check, resource_check)
    if not check.ok:
        return check.diagnostics, None
    return check.diagnostics, StateMachine(text, root, timeout, raw.get("Comment"))


def parse_definition(text: str, resource_check: ResourceCheck | None = None) -> StateMachine:
    """The compiled machine; DefinitionError (AWS's InvalidDefinition text) if invalid."""
    diagnostics, machine = validate_definition(text, resource_check)
    if machine is None:
        raise DefinitionError([d for d in diagnostics if d.severity == "ERROR"])
    return machine


def _nested_scopes(body: dict, location: str) -> list[tuple[Any, str]]:
    scopes = [(branch, f"{location}/Branches/{i}")
              for i, branch in enumerate(body.get("Branches") or []) if isinstance(branch, dict)]
    for name in ("ItemProcessor", "Iterator"):
        if isinstance(body.get(name), dict):
            scopes.append((body[name], f"{location}/{name}"))
    return scopes


def _targets(body: dict, location: str) -> list[tuple[str, Any, str]]:
    """(field, target, location) of every transition a state declares."""
    targets = [("Next", body.get("Next"), f"{location}/Next")] if "Next" in body else []
    if "Default" in body:
        targets.append(("Default", body["Default"], f"{location}/Default"))
    for field in ("Choices", "Catch"):
        found = body.get(field)
        items = found if isinstance(found, list) else []
        targets += [("Next", item["Next"], f"{location}/{field}/{i}/Next")
                    for i, item in enumerate(items) if isinstance(item, dict) and "Next" in item]
    return [t for t in targets if isinstance(t[1], str)]


def _check_transitions(scope: dict, location: str, check: Checker,
                       seen: dict[str, str]) -> None:
    """Targets exist, every state is reachable, names are unique across the machine."""
    states = scope.get("States")
    if not isinstance(states, dict):
        return
    start = scope.get("StartAt")
    if isinstance(start, str) and start not in states:
        check.error(f"{location}/StartAt", f"Missing 'StartAt' target: {start}", MISSING_TARGET)
    edges: dict[str, list[str]] = {}
    for name, body in states.items():
        where = f"{location}/States/{name}"
        if name in seen:
            check.error(where, f"Duplicate State name: {name} (also at {seen[name]})",
                        code="DUPLICATE_STATE_NAME")
        seen.setdefault(name, where)
        if not isinstance(body, dict):
            continue
        edges[name] = []
        for field, target, target_location in _targets(body, where):
            if target in states:
                edges[name].append(target)
            else:
                check.error(target_location, f"Missing '{field}' target: {target}",
                            MISSING_TARGET)
        for nested, nested_location in _nested_scopes(body, where):
            _check_transitions(nested, nested_location, check, seen)
    reached: set[str] = set()
    todo: list[str] = [start] if isinstance(start, str) and start in states else []
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(edges.get(name, []))
    if start in states:
        for name in states:
            if name not in reached:
                check.error(f"{location}/States/{name}", f'State "{name}" is not reachable.',
                            MISSING_TARGET)


def _check_resources(scope: dict, location: str, check: Checker,
                     resource_check: ResourceCheck) -> None:
    for name, body in (scope.get("States") or {}).items():
        if not isinstance(body, dict):
            continue
        where = f"{location}/States/{name}"
        resource = body.get("Resource")
        if body.get("Type") == "Task" and isinstance(resource, str) and \
                resource.startswith("arn:"):
            reason = resource_check(resource)
            if reason:
                check.error(f"{where}/Resource", reason, code="INVALID_RESOURCE")
        for nested, nested_location in _nested_scopes(body, where):
            _check_resources(nested, nested_location, check, resource_check)
