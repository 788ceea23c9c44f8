"""Compiles one state (and, through Parallel and Map, nested scopes) from its JSON, reporting
what AWS would reject; the transitions between states are checked in `definition.py`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sagepipe.stepfunctions.asl.choice import compile_rule, parse_timestamp
from sagepipe.stepfunctions.asl.errors import ALL, RESERVED
from sagepipe.stepfunctions.asl.machine import NO_RESULT, Batcher, Catcher, Retrier, Scope, State
from sagepipe.stepfunctions.asl.schema import (
    FIELDS,
    REQUIRED,
    TERMINAL_TYPES,
    Checker,
    Fields,
    check_fields,
    check_query_language,
    each_object,
)

RETRIER_FIELDS = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
                  "MaxDelaySeconds", "JitterStrategy", "Comment"}
CATCHER_FIELDS = {"ErrorEquals", "Next", "ResultPath", "Comment"}
SCOPE_FIELDS = {"StartAt", "States", "Comment"}
MAX_NAME_LENGTH = 80


def compile_scope(raw: Any, location: str, check: Checker,
                  extra_fields: frozenset[str] = frozenset()) -> Scope:
    """A machine, a branch or a Map processor: `{"StartAt": ..., "States": {...}}`."""
    if not isinstance(raw, dict):
        check.error(location or "/", "The value must be a JSON object with StartAt and States")
        return Scope("", {})
    check_fields(raw, SCOPE_FIELDS | extra_fields, location, check)
    missing = [f for f in ("StartAt", "States") if f not in raw]
    if missing:
        check.error(location or "/", f"These fields are required: [{', '.join(missing)}]")
    fields = Fields(raw, location, check)
    start_at = fields.string("StartAt") or ""
    states = raw.get("States", {})
    if not isinstance(states, dict) or ("States" in raw and not states):
        fields.bad("States", "a non-empty JSON object")
        states = {}
    return Scope(start_at, {name: compile_state(name, body, f"{location}/States/{name}", check)
                            for name, body in states.items()})


def compile_state(name: str, raw: Any, location: str, check: Checker) -> State:
    if len(name) > MAX_NAME_LENGTH or not name:
        check.error(location, f"State names must be 1 to {MAX_NAME_LENGTH} characters long")
    if not isinstance(raw, dict):
        check.error(location, "A state must be a JSON object")
        return State(name, "Pass", end=True)
    kind = raw.get("Type")
    if kind not in FIELDS:
        check.error(f"{location}/Type", "The value for the field 'Type' must be one of "
                    f"{', '.join(FIELDS)}" + ("" if kind is None else f", not {kind!r}"))
        return State(name, "Pass", end=True)
    check_fields(raw, FIELDS[kind], location, check)
    check_query_language(raw, location, check)
    missing = [f for f in REQUIRED.get(kind, []) if f not in raw]
    if missing:
        check.error(location, f"These fields are required: [{', '.join(missing)}]")
    fields = Fields(raw, location, check)
    state = State(name, kind, next=fields.string("Next"))
    if kind not in TERMINAL_TYPES:
        state.end = _flow(raw, fields)
    state.input_path = fields.path("InputPath", nullable=True)
    state.output_path = fields.path("OutputPath", nullable=True)
    state.result_path = fields.path("ResultPath", reference=True, nullable=True)
    state.parameters = fields.template("Parameters")
    state.result_selector = fields.template("ResultSelector", must_be_object=True)
    state.retriers = _retriers(raw, fields)
    state.catchers = _catchers(raw, fields)
    COMPILERS.get(kind, lambda s, r, f: None)(state, raw, fields)
    return state


def _flow(raw: dict, fields: Fields) -> bool:
    if "End" in raw and raw["End"] is not True:
        fields.bad("End", "true")
    if "Next" in raw and "End" in raw:
        fields.check.error(fields.location, "The fields 'Next' and 'End' are mutually exclusive")
    elif "Next" not in raw and "End" not in raw:
        fields.check.error(fields.location, "The state must have a 'Next' field or "
                           "'End': true (it is not a terminal state)")
    return raw.get("End") is True


def _error_equals(raw: dict, fields: Fields) -> list[str]:
    value = raw.get("ErrorEquals")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        fields.bad("ErrorEquals", "a non-empty array of error names")
        return []
    if ALL in value and len(value) > 1:
        fields.check.error(f"{fields.location}/ErrorEquals",
                           "'States.ALL' must appear alone in ErrorEquals")
    for name in value:
        if name.startswith("States.") and name not in RESERVED:
            fields.check.warning(f"{fields.location}/ErrorEquals",
                                 f"'{name}' is not an error Step Functions reports: this "
                                 "ErrorEquals never matches it", code="UNKNOWN_ERROR_NAME")
    return value


def _check_all_last(items: list[Any], name: str, fields: Fields) -> None:
    for index, item in enumerate(items[:-1]):
        if ALL in item.error_equals:
            fields.check.error(f"{fields.location}/{name}/{index}/ErrorEquals",
                               f"'States.ALL' must appear in the last element of {name}")


def _retriers(raw: dict, fields: Fields) -> list[Retrier]:
    def one(item: dict, location: str) -> Retrier:
        check_fields(item, RETRIER_FIELDS, location, fields.check)
        f = Fields(item, location, fields.check)
        jitter = f.string("JitterStrategy") or "NONE"
        if jitter not in ("FULL", "NONE"):
            f.bad("JitterStrategy", "FULL or NONE")
        return Retrier(_error_equals(item, f), f.integer("IntervalSeconds", 1, 1),
                       f.integer("MaxAttempts", 0, 3), f.number("BackoffRate", 1.0, default=2.0),
                       f.integer("MaxDelaySeconds", 1), jitter)
    retriers = each_object(raw.get("Retry"), "Retry", fields, one)
    _check_all_last(retriers, "Retry", fields)
    return retriers


def _catchers(raw: dict, fields: Fields) -> list[Catcher]:
    def one(item: dict, location: str) -> Catcher:
        check_fields(item, CATCHER_FIELDS, location, fields.check)
        f = Fields(item, location, fields.check)
        if not isinstance(item.get("Next"), str):
            fields.check.error(location, "These fields are required: [Next]")
        return Catcher(_error_equals(item, f), item.get("Next", ""),
                       f.path("ResultPath", reference=True, nullable=True))
    catchers = each_object(raw.get("Catch"), "Catch", fields, one)
    _check_all_last(catchers, "Catch", fields)
    return catchers


def _pass(state: State, raw: dict, fields: Fields) -> None:
    state.result = raw.get("Result", NO_RESULT)


def _task(state: State, raw: dict, fields: Fields) -> None:
    resource = fields.string("Resource")
    if resource is not None and not resource.startswith("arn:"):
        fields.check.error(f"{fields.location}/Resource", f"The resource provided {resource} "
                           "is not recognized: it is not a valid resource ARN",
                           code="INVALID_RESOURCE")
    state.resource = resource or ""
    state.timeout = fields.integer_or_path("TimeoutSeconds", minimum=1)
    state.heartbeat = fields.integer_or_path("HeartbeatSeconds", minimum=1)
    if isinstance(state.timeout, int) and isinstance(state.heartbeat, int) and \
            state.heartbeat >= state.timeout:
        fields.bad("HeartbeatSeconds", "smaller than TimeoutSeconds")


def _choice(state: State, raw: dict, fields: Fields) -> None:
    rules = raw.get("Choices")
    if "Choices" in raw and (not isinstance(rules, list) or not rules):
        fields.bad("Choices", "a non-empty array of choice rules")
        rules = []
    for index, rule in enumerate(rules or []):
        test = compile_rule(rule, f"{fields.location}/Choices/{index}",
                            fields.check.error, top=True)
        if test is not None and isinstance(rule.get("Next"), str):
            state.choices.append((test, rule["Next"]))
    state.default = fields.string("Default")


def _wait(state: State, raw: dict, fields: Fields) -> None:
    present = [f for f in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if f in raw]
    if len(present) != 1:
        fields.check.error(fields.location, "A Wait state must have exactly one of Seconds, "
                           f"SecondsPath, Timestamp, TimestampPath; found {present or 'none'}")
        return
    kind = present[0]
    if kind == "Seconds":
        state.wait = (kind, fields.integer("Seconds", 0))
    elif kind == "Timestamp":
        if parse_timestamp(raw[kind]) is None:
            fields.bad(kind, "an RFC 3339 timestamp such as 2026-01-31T12:00:00Z")
        state.wait = (kind, parse_timestamp(raw[kind]))
    else:
        state.wait = (kind, fields.path(kind, definite=True))


def _fail(state: State, raw: dict, fields: Fields) -> None:
    for literal, dynamic, attribute in (("Error", "ErrorPath", "error"),
                                        ("Cause", "CausePath", "cause")):
        chosen = fields.either(literal, dynamic)
        value = fields.string(literal) if chosen == literal else \
            fields.expression(dynamic) if chosen else None
        setattr(state, attribute, value)


def _parallel(state: State, raw: dict, fields: Fields) -> None:
    branches = raw.get("Branches")
    if "Branches" in raw and (not isinstance(branches, list) or not branches):
        fields.bad("Branches", "a non-empty array of branches")
        return
    state.branches = [compile_scope(branch, f"{fields.location}/Branches/{index}", fields.check)
                      for index, branch in enumerate(branches or [])]


def _map(state: State, raw: dict, fields: Fields) -> None:
    processor = fields.either("ItemProcessor", "Iterator", required=True)
    if processor:
        extra = frozenset({"ProcessorConfig"}) if processor == "ItemProcessor" else frozenset()
        state.branches = [compile_scope(raw[processor], f"{fields.location}/{processor}",
                                        fields.check, extra)]
        config = raw[processor].get("ProcessorConfig", {}) if isinstance(
            raw[processor], dict) else {}
        if not isinstance(config, dict) or config.get("Mode", "INLINE") not in (
                "INLINE", "DISTRIBUTED"):
            fields.bad(f"{processor}/ProcessorConfig", "an object whose Mode is INLINE or "
                       "DISTRIBUTED")
    # A Map's Parameters is the legacy name of ItemSelector (already compiled as Parameters).
    selector = fields.either("ItemSelector", "Parameters")
    state.item_selector = state.parameters if selector == "Parameters" else \
        fields.template("ItemSelector")
    state.parameters = None
    state.items_path = fields.path("ItemsPath", definite=True) or state.items_path
    state.max_concurrency = fields.integer_or_path("MaxConcurrency") or 0
    state.tolerated_count = fields.integer_or_path("ToleratedFailureCount")
    if fields.either("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"):
        state.tolerated_percentage = fields.number("ToleratedFailurePercentage", 0, 100) \
            if "ToleratedFailurePercentage" in raw else \
            fields.path("ToleratedFailurePercentagePath", definite=True, default=None)
    state.batcher = _batcher(raw.get("ItemBatcher"), fields)
    state.item_reader = raw.get("ItemReader")
    state.result_writer = raw.get("ResultWriter")
    for name in ("ItemReader", "ResultWriter"):
        if name in raw and not isinstance(raw[name], dict):
            fields.bad(name, "a JSON object")
    fields.string("Label")


def _batcher(raw: Any, fields: Fields) -> Batcher | None:
    if raw is None:
        return None
    location = f"{fields.location}/ItemBatcher"
    if not isinstance(raw, dict):
        fields.bad("ItemBatcher", "a JSON object")
        return None
    check_fields(raw, {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
                       "MaxInputBytesPerBatchPath", "BatchInput"}, location, fields.check)
    f = Fields(raw, location, fields.check)
    batcher = Batcher(f.integer_or_path("MaxItemsPerBatch", 1),
                      f.integer_or_path("MaxInputBytesPerBatch", 1),
                      f.template("BatchInput", must_be_object=True))
    if batcher.max_items is None and batcher.max_bytes is None:
        fields.check.error(location, "An ItemBatcher needs MaxItemsPerBatch or "
                           "MaxInputBytesPerBatch (or their Path forms)")
    return batcher


COMPILERS: dict[str, Callable[[State, dict, Fields], None]] = {
    "Pass": _pass, "Task": _task, "Choice": _choice, "Wait": _wait, "Fail": _fail,
    "Parallel": _parallel, "Map": _map,
}
