"""One execution: its thread, its outcome, how it is stopped, and task-token callbacks.

This is the interface the service layer calls (see the package docstring for an example).
Whatever happens inside, an execution ends with exactly one closing event
(ExecutionSucceeded, ExecutionFailed, ExecutionAborted or ExecutionTimedOut) and an Outcome;
an unexpected error in the engine itself fails the execution with States.Runtime rather than
leaving it RUNNING.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sagepipe.stepfunctions.asl.control import STOPPED, TIMED_OUT, Cancellation, Clock
from sagepipe.stepfunctions.asl.errors import RUNTIME, TIMEOUT, Aborted, StatesError
from sagepipe.stepfunctions.asl.handlers import HANDLERS
from sagepipe.stepfunctions.asl.history import History, Sink, Trace, error_details, with_payload
from sagepipe.stepfunctions.asl.interpreter import Frame, Interpreter
from sagepipe.stepfunctions.asl.machine import StateMachine
from sagepipe.stepfunctions.asl.taskrunner import TaskRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionInfo:
    """What the context object (`$$.Execution`, `$$.StateMachine`) says about the execution."""

    execution_arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    role_arn: str
    start_time: datetime
    region: str = "us-east-1"


@dataclass(frozen=True)
class Outcome:
    """How an execution ended: DescribeExecution's status, output, error and cause."""

    status: str  # SUCCEEDED | FAILED | ABORTED | TIMED_OUT
    output: Any = None
    error: str | None = None
    cause: str | None = None


class Execution:
    def __init__(self, machine: StateMachine, execution_input: Any, info: ExecutionInfo,
                 runner: TaskRunner, sink: Sink, clock: Clock | None = None,
                 on_end: Callable[[Outcome], None] | None = None) -> None:
        self.machine = machine
        self.info = info
        self.clock = clock or Clock()
        self.history = History(sink, self.clock.now)
        self._cancel = Cancellation()
        self._stop_reason: tuple[str | None, str | None] = (None, None)
        self._on_end = on_end
        self._done = threading.Event()
        self.outcome: Outcome | None = None
        self._interpreter = Interpreter(info, execution_input, runner, self.history,
                                        self.clock, HANDLERS)
        self._thread = threading.Thread(target=self.run, daemon=True,
                                        name=f"sfn:{info.name}")

    def start(self) -> None:
        """Run the execution in a background thread (StartExecution)."""
        self._thread.start()

    def run(self) -> Outcome:
        """Run the execution in the calling thread (StartSyncExecution) and return how it
        ended; the sink has received every event by then."""
        timer = None
        if self.machine.timeout_seconds:
            timer = threading.Timer(self.machine.timeout_seconds, self._cancel.cancel,
                                    args=(TIMED_OUT,))
            timer.daemon = True
            timer.start()
        trace = Trace()
        try:
            self.history.emit(trace, "ExecutionStarted", with_payload(
                "input", self._interpreter.input, roleArn=self.info.role_arn))
            output = self._interpreter.run_scope(self.machine.root, self._interpreter.input,
                                                 Frame(trace, self._cancel))
            self._cancel.check()
            outcome = Outcome("SUCCEEDED", output=output)
            self.history.emit(trace, "ExecutionSucceeded", with_payload("output", output))
        except StatesError as error:
            if self._cancel.cancelled:  # stopped or timed out as it failed: that is its end
                outcome = self._aborted(trace)
            else:
                outcome = self._close(trace, "FAILED", "ExecutionFailed", error.error,
                                      error.cause)
        except Aborted:
            outcome = self._aborted(trace)
        except Exception as error:  # a defect of the engine: end the execution, say why
            log.exception("execution %s failed inside the engine", self.info.execution_arn)
            outcome = self._close(trace, "FAILED", "ExecutionFailed", RUNTIME,
                                  f"Internal error of the local Step Functions: {error!r}")
        finally:
            if timer:
                timer.cancel()
        self.outcome = outcome
        try:
            if self._on_end:  # before wait() returns: whoever waits sees what it recorded
                self._on_end(outcome)
        finally:
            self._done.set()
        return outcome

    def _aborted(self, trace: Trace) -> Outcome:
        if self._cancel.reason == TIMED_OUT:
            return self._close(trace, "TIMED_OUT", "ExecutionTimedOut", TIMEOUT,
                               f"The execution ran longer than its TimeoutSeconds "
                               f"({self.machine.timeout_seconds} s)")
        error, cause = self._stop_reason
        return self._close(trace, "ABORTED", "ExecutionAborted", error, cause)

    def _close(self, trace: Trace, status: str, event: str, error: str | None,
               cause: str | None) -> Outcome:
        try:
            self.history.emit(trace, event, error_details(error, cause))
        except Exception:  # the sink failed: the outcome still reaches on_end
            log.exception("could not record %s of %s", event, self.info.execution_arn)
        return Outcome(status, error=error or None, cause=cause or None)

    def stop(self, error: str | None = None, cause: str | None = None) -> None:
        """StopExecution: abort waits, retries and running tasks (their runners are told to
        stop); the execution then ends ABORTED with this error and cause."""
        if not self._cancel.cancelled:
            self._stop_reason = (error, cause)
        self._cancel.cancel(STOPPED)

    def wait(self, timeout: float | None = None) -> Outcome | None:
        """The outcome once the execution has ended (None if `timeout` passed first)."""
        self._done.wait(timeout)
        return self.outcome

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def send_task_success(self, token: str, output: Any) -> bool:
        """SendTaskSuccess; False if no task of this execution waits for `token`."""
        return self._answer(token, output=output)

    def send_task_failure(self, token: str, error: str = "", cause: str = "") -> bool:
        return self._answer(token, error=StatesError(error, cause))

    def send_task_heartbeat(self, token: str) -> bool:
        slot = self._interpreter.tokens.get(token)
        if slot is None:
            return False
        slot.beat()
        return True

    def _answer(self, token: str, output: Any = None, error: StatesError | None = None) -> bool:
        slot = self._interpreter.tokens.get(token)
        if slot is None:
            return False
        slot.answer(output, error)
        return True
