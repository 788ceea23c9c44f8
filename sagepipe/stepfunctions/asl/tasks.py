"""The Task state: events in AWS's families, the runner in a thread of its own, timeouts,
heartbeats, `.waitForTaskToken` callbacks, then Retry and Catch around it all.

Event families follow the Resource: an optimized or AWS SDK integration
(`arn:aws:states:::service:action`) records Task* events with its resourceType and resource;
a bare Lambda function ARN records LambdaFunction* events. (Activities are not emulated: the
service refuses an activity ARN when the state machine is created.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagepipe.stepfunctions.asl.errors import (
    HEARTBEAT_TIMEOUT,
    TIMEOUT,
    Aborted,
    StatesError,
    TaskFailure,
)
from sagepipe.stepfunctions.asl.history import error_details, with_payload
from sagepipe.stepfunctions.asl.interpreter import Visit
from sagepipe.stepfunctions.asl.payload import check_size, select, to_json
from sagepipe.stepfunctions.asl.recovery import recovering, with_retries
from sagepipe.stepfunctions.asl.states import finish, resolve_number
from sagepipe.stepfunctions.asl.taskrunner import WAIT_FOR_TASK_TOKEN, TaskRequest, new_task_token

# After a stop or a timeout, how long the runner gets to clean up (stop its job) before the
# execution records the end anyway.
CLEANUP_GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class Family:
    """How one Resource's events are named and detailed."""

    prefix: str  # "Task" or "LambdaFunction"
    resource: str
    resource_type: str = ""
    region: str = ""

    @classmethod
    def of(cls, resource: str, region: str) -> Family:
        parts = resource.split(":", 6)
        if len(parts) >= 6 and parts[2] == "lambda" and parts[5] == "function":
            return cls("LambdaFunction", resource)
        if len(parts) == 7 and parts[2] == "states" and parts[3] == parts[4] == "":
            service, action = parts[5], parts[6]
            if service == "aws-sdk":
                sdk_service, _, action = action.partition(":")
                service = f"aws-sdk:{sdk_service}"
            return cls("Task", action, service, region)
        return cls("Task", resource, "", region)

    def ids(self) -> dict[str, str]:
        return {"resourceType": self.resource_type, "resource": self.resource} \
            if self.prefix == "Task" else {}

    def scheduled(self, parameters: Any, timeout: Any, heartbeat: Any) -> dict[str, Any]:
        limits = {**({"timeoutInSeconds": int(timeout)} if timeout else {}),
                  **({"heartbeatInSeconds": int(heartbeat)} if heartbeat else {})}
        if self.prefix == "Task":
            return {**self.ids(), "region": self.region, "parameters": to_json(parameters),
                    **limits}
        if self.prefix == "LambdaFunction":
            limits.pop("heartbeatInSeconds", None)
        return with_payload("input", parameters, resource=self.resource, **limits)

    def started(self) -> dict[str, Any] | None:
        return self.ids() if self.prefix == "Task" else None


class _Slot:
    """A `.waitForTaskToken` task waiting for SendTaskSuccess / Failure / Heartbeat."""

    def __init__(self, watch: _Watch) -> None:
        self.done = threading.Event()
        self.output: Any = None
        self.error: StatesError | None = None
        self.beat = watch.beat
        self._wake = watch.wake

    def answer(self, output: Any, error: StatesError | None) -> None:
        """SendTaskSuccess / SendTaskFailure: the task ends with this output or error."""
        self.output, self.error = output, error
        self.done.set()
        self._wake.set()  # the watch sleeps until something happens


def task_state(visit: Visit, data: Any) -> tuple[Any, str | None]:
    state = visit.state
    family = Family.of(state.resource, visit.interpreter.info.region)

    def work() -> tuple[Any, str | None]:
        result = with_retries(visit, lambda count: _attempt(visit, data, family, count))
        return finish(visit, data, result, visit.context()), state.next
    return recovering(visit, data, work)


def _attempt(visit: Visit, data: Any, family: Family, retry_count: int) -> Any:
    state, interpreter = visit.state, visit.interpreter
    token = new_task_token(interpreter.info.execution_arn) \
        if state.resource.endswith(WAIT_FOR_TASK_TOKEN) else None
    context = visit.context(retry_count, **({"Task": {"Token": token}} if token else {}))
    effective = select(state.input_path, data, context, "InputPath")
    parameters = state.parameters.render(effective, context) if state.parameters else effective
    check_size(parameters, f"The input of task state '{state.name}'")
    timeout, heartbeat = (resolve_number(v, effective, context, f, 1)
                          if v is not None and not isinstance(v, int) else v
                          for v, f in ((state.timeout, "TimeoutSecondsPath"),
                                       (state.heartbeat, "HeartbeatSecondsPath")))
    visit.emit(f"{family.prefix}Scheduled", family.scheduled(parameters, timeout, heartbeat))
    visit.emit(f"{family.prefix}Started", family.started())
    cancel = visit.frame.cancel.child()
    watch = _Watch(cancel, timeout, heartbeat)

    def submitted(output: Any) -> None:
        # Only integrations have a Submitted event; a start that completes after a stop is
        # not recorded.
        if family.prefix == "Task" and not cancel.cancelled:
            visit.emit(f"{family.prefix}Submitted", with_payload("output", output,
                                                                 **family.ids()))
    request = TaskRequest(
        state.resource, parameters, interpreter.info.region, interpreter.info.execution_arn,
        state.name, timeout, heartbeat, token, cancel.event, submitted=submitted,
        heartbeat=watch.beat)
    try:
        result = watch.run(lambda: interpreter.runner.run(request))
        if token:
            result = _await_token(interpreter, token, watch, lambda: request.submitted(result))
        check_size(result, f"The result of task state '{state.name}'")
    except StatesError as error:
        kind = "TimedOut" if error.error in (TIMEOUT, HEARTBEAT_TIMEOUT) else "Failed"
        visit.emit(f"{family.prefix}{kind}", error_details(error.error, error.cause,
                                                            **family.ids()))
        raise
    finally:
        cancel.release()
    visit.emit(f"{family.prefix}Succeeded", with_payload("output", result, **family.ids()))
    return result


def _await_token(interpreter: Any, token: str, watch: _Watch,
                 submitted: Callable[[], None]) -> Any:
    """The answer sent with `token`; the token is taken from before the task says it is
    submitted, so that whoever sees TaskSubmitted can answer at once."""
    slot = _Slot(watch)
    interpreter.tokens[token] = slot
    try:
        submitted()
        watch.wait(slot.done)
    finally:
        interpreter.tokens.pop(token, None)
    if slot.error:
        raise slot.error
    return slot.output


class _Watch:
    """Waits for a task while watching its TimeoutSeconds, HeartbeatSeconds and stop."""

    def __init__(self, cancel: Any, timeout: float | None, heartbeat: float | None) -> None:
        self.cancel = cancel
        self.wake = threading.Event()
        cancel.on_cancel(self.wake.set)
        start = time.monotonic()
        self.deadline = start + timeout if timeout else None
        self.heartbeat = heartbeat
        self.last_beat = start

    def beat(self) -> None:
        self.last_beat = time.monotonic()
        self.wake.set()

    def run(self, call: Any) -> Any:
        """`call()` in a thread; its result, or the error, timeout or stop that came first."""
        done, box = threading.Event(), {}

        def target() -> None:
            try:
                box["result"] = call()
            except BaseException as error:  # handed to the waiting thread
                box["error"] = error
            finally:
                done.set()
                self.wake.set()
        worker = threading.Thread(target=target, daemon=True, name="sfn-task")
        worker.start()
        try:
            self.wait(done)
        except (Aborted, StatesError):
            worker.join(CLEANUP_GRACE_SECONDS)  # let the runner stop what it started
            raise
        error = box.get("error")
        if isinstance(error, TaskFailure | StatesError | Aborted):
            raise error
        if error is not None:
            raise StatesError("States.TaskFailed", f"The task runner failed: {error!r}")
        return box.get("result")

    def wait(self, done: threading.Event) -> None:
        """Return once `done`; a stop wins over a task that ended in the same instant (the
        failure of a job that was stopped is the stop's doing, not the task's)."""
        while True:
            if self.cancel.cancelled:
                raise Aborted(self.cancel.reason)
            if done.is_set():
                return
            now = time.monotonic()
            limits = [(self.deadline, TIMEOUT)] if self.deadline else []
            if self.heartbeat:
                limits.append((self.last_beat + self.heartbeat, HEARTBEAT_TIMEOUT))
            expired = [error for at, error in limits if at <= now]
            if expired:
                self.cancel.cancel("timed out")
                raise StatesError(expired[0], "The task did not finish within its "
                                  "TimeoutSeconds" if expired[0] == TIMEOUT else
                                  "The task sent no heartbeat within its HeartbeatSeconds")
            self.wake.wait(min(at for at, _ in limits) - now if limits else None)
            self.wake.clear()
