"""The states that do not fan out or call out: Pass, Choice, Wait, Succeed, Fail.

Each handler takes the visit and the state's raw input and returns (output, next state or
None to end the scope); Fail raises. The data-flow order is AWS's: InputPath, Parameters,
(the state's work), ResultSelector, ResultPath (into the raw input), OutputPath.
"""

from __future__ import annotations

from typing import Any

from sagepipe.stepfunctions.asl.choice import parse_timestamp
from sagepipe.stepfunctions.asl.errors import (
    NO_CHOICE_MATCHED,
    DataFlowError,
    PathNotFound,
    StatesError,
)
from sagepipe.stepfunctions.asl.interpreter import Visit
from sagepipe.stepfunctions.asl.machine import NO_RESULT
from sagepipe.stepfunctions.asl.paths import Path
from sagepipe.stepfunctions.asl.payload import merge_result, select, to_json


def finish(visit: Visit, data: Any, result: Any, context: dict) -> Any:
    """ResultSelector, ResultPath and OutputPath applied to a state's result."""
    state = visit.state
    if state.result_selector is not None:
        result = state.result_selector.render(result, context)
    return select(state.output_path, merge_result(state.result_path, data, result), context,
                  "OutputPath")


def effective_input(visit: Visit, data: Any, context: dict) -> Any:
    """InputPath, then Parameters: what the state works on."""
    state = visit.state
    effective = select(state.input_path, data, context, "InputPath")
    return state.parameters.render(effective, context) if state.parameters else effective


def pass_state(visit: Visit, data: Any) -> tuple[Any, str | None]:
    context = visit.context()
    effective = effective_input(visit, data, context)
    result = effective if visit.state.result is NO_RESULT else visit.state.result
    return finish(visit, data, result, context), visit.state.next


def choice_state(visit: Visit, data: Any) -> tuple[Any, str | None]:
    state, context = visit.state, visit.context()
    effective = select(state.input_path, data, context, "InputPath")
    target = next((name for test, name in state.choices if test(effective, context)),
                  state.default)
    if target is None:
        raise StatesError(NO_CHOICE_MATCHED, f"No Choice Rules matched the input of state "
                          f"'{state.name}' and it has no Default: {to_json(effective)}")
    return select(state.output_path, effective, context, "OutputPath"), target


def resolve_number(path: Path, data: Any, context: dict, field: str, minimum: float = 0,
                   integer: bool = True) -> Any:
    """The value a `...Path` field selects, which must be a (non-negative) number."""
    try:
        value = path.find(data, context)
    except PathNotFound:
        raise DataFlowError(f"Invalid path '{path.text}' for the field '{field}': it selects "
                            "nothing in the input") from None
    kind = int if integer else int | float
    if not isinstance(value, kind) or isinstance(value, bool) or value < minimum:
        raise DataFlowError(f"The value of the field '{field}' ({to_json(value)} at "
                            f"'{path.text}') must be a number of at least {minimum}")
    return value


def wait_state(visit: Visit, data: Any) -> tuple[Any, str | None]:
    state, context = visit.state, visit.context()
    effective = select(state.input_path, data, context, "InputPath")
    assert state.wait is not None
    kind, value = state.wait
    now = visit.interpreter.clock.now()
    if kind == "Seconds":
        seconds = value
    elif kind == "SecondsPath":
        seconds = resolve_number(value, effective, context, kind)
    else:
        moment = value if kind == "Timestamp" else _timestamp_at(value, effective, context)
        seconds = (moment - now).total_seconds()
    visit.interpreter.clock.sleep(max(seconds, 0), visit.frame.cancel)
    return select(state.output_path, effective, context, "OutputPath"), state.next


def _timestamp_at(path: Path, data: Any, context: dict) -> Any:
    try:
        value = path.find(data, context)
    except PathNotFound:
        raise DataFlowError(f"Invalid path '{path.text}' for the field 'TimestampPath': it "
                            "selects nothing in the input") from None
    moment = parse_timestamp(value)
    if moment is None:
        raise DataFlowError(f"The value at '{path.text}' ({to_json(value)}) is not an RFC "
                            "3339 timestamp such as 2026-01-31T12:00:00Z")
    return moment


def succeed_state(visit: Visit, data: Any) -> tuple[Any, str | None]:
    context = visit.context()
    effective = select(visit.state.input_path, data, context, "InputPath")
    return select(visit.state.output_path, effective, context, "OutputPath"), None


def fail_state(visit: Visit, data: Any) -> tuple[Any, str | None]:
    context = visit.context()
    error, cause = (_text(value, data, context) for value in (visit.state.error,
                                                              visit.state.cause))
    raise StatesError(error, cause)


def _text(value: Any, data: Any, context: dict) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, Path):
        try:
            found = value.find(data, context)
        except PathNotFound:
            raise DataFlowError(f"Invalid path '{value.text}': it selects nothing in the "
                                "input") from None
    else:
        found = value.evaluate(data, context)
    return found if isinstance(found, str) else to_json(found)
