"""Helpers for the interpreter tests: run a definition, a virtual clock, scripted task runners.

The task runners here are the tests' own Task resources (deterministic: "fail twice, then
succeed"), so that the tests exercise the interpreter's semantics; the service integrations
are tested against the real local AWS in test_integrations.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sagepipe.stepfunctions.asl import (
    Clock,
    Execution,
    ExecutionInfo,
    Outcome,
    TaskFailure,
    TaskRequest,
    parse_definition,
)
from sagepipe.stepfunctions.asl.errors import Aborted

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
LAMBDA = "arn:aws:states:::lambda:invoke"
FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:work"


def info(name: str = "run-1") -> ExecutionInfo:
    return ExecutionInfo(
        execution_arn=f"arn:aws:states:us-east-1:000000000000:execution:machine:{name}",
        name=name, state_machine_arn="arn:aws:states:us-east-1:000000000000:stateMachine:machine",
        state_machine_name="machine", role_arn="arn:aws:iam::000000000000:role/sfn",
        start_time=START)


class VirtualClock(Clock):
    """Time that advances only by the sleeps asked of it; records every sleep."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return START + timedelta(seconds=self.elapsed)

    def sleep(self, seconds: float, cancel: Any) -> None:
        cancel.check()
        with self._lock:
            self.sleeps.append(seconds)
            self.elapsed += seconds


class Script:
    """A task runner that plays a script: each call takes the next step, an exception to
    raise or a value to return (a callable step is called with the request)."""

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.requests: list[TaskRequest] = []
        self._lock = threading.Lock()

    def run(self, request: TaskRequest) -> Any:
        with self._lock:
            self.requests.append(request)
            step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        return step(request) if callable(step) else step


def echo(request: TaskRequest) -> Any:
    return request.parameters


def fails(error: str, cause: str = "") -> TaskFailure:
    return TaskFailure(error, cause)


def block_until_cancelled(request: TaskRequest) -> Any:
    """A task that runs until told to stop (as a .sync job does)."""
    if not request.cancelled.wait(30):
        raise AssertionError("the task was never cancelled")
    raise Aborted("cancelled")


def machine(states: dict, start: str | None = None, **top: Any) -> dict:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def run(definition: dict, execution_input: Any = None, runner: Any = None,
        clock: Clock | None = None) -> tuple[Outcome, list[dict]]:
    """Run to the end in this thread; the outcome and every history event."""
    events: list[dict] = []
    execution = Execution(parse_definition(json.dumps(definition)),
                          {} if execution_input is None else execution_input, info(),
                          runner or Script(echo), events.append, clock=clock or VirtualClock())
    return execution.run(), events


def start(definition: dict, execution_input: Any = None, runner: Any = None,
          clock: Clock | None = None) -> tuple[Execution, list[dict]]:
    """Start in the background; the execution and the (growing) list of its events."""
    events: list[dict] = []
    execution = Execution(parse_definition(json.dumps(definition)),
                          {} if execution_input is None else execution_input, info(),
                          runner or Script(echo), events.append, clock=clock)
    execution.start()
    return execution, events


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    """Poll `condition` until it holds (a bounded wait, not a speed check)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)
    return value


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def details(event: dict) -> dict:
    return next(v for k, v in event.items() if k.endswith("EventDetails"))
