"""Runs states: the transition loop of a scope, and the frame every state runs in (its events,
its data-flow errors, its context object). The state types' own behaviour lives in
`states.py`, `tasks.py` and `fanout.py`; the execution around it in `execution.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sagepipe.stepfunctions.asl.control import Cancellation, Clock
from sagepipe.stepfunctions.asl.errors import Aborted, DataFlowError, StatesError
from sagepipe.stepfunctions.asl.history import History, Trace, with_payload
from sagepipe.stepfunctions.asl.machine import Scope, State
from sagepipe.stepfunctions.asl.payload import check_size

if TYPE_CHECKING:
    from sagepipe.stepfunctions.asl.execution import ExecutionInfo
    from sagepipe.stepfunctions.asl.taskrunner import TaskRunner

# States whose interruption AWS records with a `{Type}StateAborted` event.
ABORT_EVENTS = {"Task", "Map", "Parallel", "Wait"}


@dataclass
class Frame:
    """One thread of control: its history trace and its cancellation."""

    trace: Trace
    cancel: Cancellation

    def fork(self) -> Frame:
        return Frame(Trace(self.trace.last), self.cancel.child())


@dataclass
class Visit:
    """One state being run: what its handler needs besides the state and its input."""

    state: State
    frame: Frame
    entered_id: int
    entered_time: datetime
    interpreter: Interpreter

    def context(self, retry_count: int = 0, **extra: Any) -> dict[str, Any]:
        """The context object (`$$`) as AWS builds it for this state."""
        return self.interpreter.context(self.state.name, self.entered_time, retry_count,
                                        **extra)

    def emit(self, event_type: str, details: dict[str, Any] | None = None) -> int:
        return self.interpreter.history.emit(self.frame.trace, event_type, details)


Handler = Callable[[Visit, Any], tuple[Any, str | None]]


class Interpreter:
    def __init__(self, info: ExecutionInfo, execution_input: Any, runner: TaskRunner,
                 history: History, clock: Clock, handlers: dict[str, Handler]) -> None:
        self.info = info
        self.input = execution_input
        self.runner = runner
        self.history = history
        self.clock = clock
        self.handlers = handlers
        self.tokens: dict[str, Any] = {}  # task token -> its waiting slot (tasks.py)

    def context(self, state_name: str, entered: datetime, retry_count: int,
                **extra: Any) -> dict[str, Any]:
        info = self.info
        return {
            "Execution": {"Id": info.execution_arn, "Input": self.input, "Name": info.name,
                          "RoleArn": info.role_arn, "StartTime": iso(info.start_time),
                          "RedriveCount": 0},
            "State": {"Name": state_name, "EnteredTime": iso(entered),
                      "RetryCount": retry_count},
            "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
            **extra,
        }

    def run_scope(self, scope: Scope, data: Any, frame: Frame) -> Any:
        """Run states from StartAt until one ends the scope; its output is the scope's."""
        name: str | None = scope.start_at
        while name is not None:
            data, name = self.run_state(scope.states[name], data, frame)
        return data

    def run_state(self, state: State, data: Any, frame: Frame) -> tuple[Any, str | None]:
        frame.cancel.check()
        entered_time = self.clock.now()
        entered_id = self.history.emit(frame.trace, f"{state.type}StateEntered",
                                       with_payload("input", data, name=state.name))
        visit = Visit(state, frame, entered_id, entered_time, self)
        try:
            output, next_name = self.handlers[state.type](visit, data)
            check_size(output, f"The output of state '{state.name}'")
        except DataFlowError as error:
            raise StatesError(error.error, f"An error occurred while executing the state "
                              f"'{state.name}' (entered at the event id #{entered_id}). "
                              f"{error.cause}") from None
        except Aborted:
            if state.type in ABORT_EVENTS:
                visit.emit(f"{state.type}StateAborted")
            raise
        self.history.emit(frame.trace, f"{state.type}StateExited",
                          with_payload("output", output, name=state.name))
        return output, next_name


def iso(moment: datetime) -> str:
    """Timestamps in the context object: ISO 8601, milliseconds, `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
