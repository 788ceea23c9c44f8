"""Executions under way in this local AWS: the engine's `Execution`s, what they write as
they go, and what becomes of them when the local AWS stops or starts again.

Each event an execution emits is written to the store at once (`Records.add_event`) and as a
line of the execution's log (`<home>/logs/States/<machine>/<execution>.log`, what
`sagepipe logs` shows); its end updates the execution's document. EXPRESS executions, as in
AWS, leave no history to query: only their log.

The local AWS stopping aborts the executions it runs (their `.sync` jobs are stopped with
them); one that was killed outright finds them RUNNING in the store when it starts again and
closes each with the engine's `interrupted_event`: ABORTED, the reason saying the local AWS
restarted, the history kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sagepipe.stepfunctions.asl import (
    Event,
    Execution,
    ExecutionInfo,
    Outcome,
    StateMachine,
    TaskRunner,
    interrupted_event,
)
from sagepipe.stepfunctions.asl.history import RESTARTED, details_member
from sagepipe.stepfunctions.asl.payload import to_json
from sagepipe.stepfunctions.records import Doc, Records

log = logging.getLogger(__name__)
SHUTDOWN_CAUSE = "The local AWS stopped while this execution was running; it was not resumed"
STOP_WAIT_SECONDS = 30.0  # how long StopExecution waits for the engine to record the abort


def ended_members(outcome: Outcome, stop_date: float) -> Doc:
    """DescribeExecution's members that an outcome sets."""
    members: Doc = {"status": outcome.status, "stopDate": stop_date}
    if outcome.status == "SUCCEEDED":
        members.update(output=to_json(outcome.output), outputDetails={"included": True})
    for key, value in (("error", outcome.error), ("cause", outcome.cause)):
        if value:
            members[key] = value
    return members


class ExecutionLog:
    """One line per history event, appended as it happens (line-buffered: each line reaches
    the file when it is written), open while the execution runs."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out = path.open("a", encoding="utf-8", buffering=1)

    def close(self) -> None:
        self._out.close()

    def write(self, event: Event) -> None:
        details = event.get(details_member(event["type"])) or {}
        words = [event["timestamp"].isoformat(timespec="milliseconds"), event["type"]]
        words += [str(details[k]) for k in ("name", "resourceType", "resource", "error")
                  if details.get(k)]
        if details.get("cause"):
            words.append(f"cause: {details['cause']}")
        self._out.write(" ".join(words) + "\n")


class Runs:
    """The executions this process runs, by ARN."""

    def __init__(self, records: Records, runner: TaskRunner, logs: Path) -> None:
        self.records = records
        self.runner = runner
        self.logs = logs
        self._running: dict[str, Execution] = {}
        self._lock = threading.Lock()

    def log_path(self, info: ExecutionInfo) -> Path:
        return self.logs / info.state_machine_name / f"{info.name}.log"

    def execution(self, machine: StateMachine, execution_input: Any, info: ExecutionInfo,
                  recorded: bool, on_end: Callable[[Outcome], None] | None = None,
                  ) -> Execution:
        """An execution whose events go to its log and, if `recorded` (STANDARD), to the
        store; registered here until it ends."""
        execution_log = ExecutionLog(self.log_path(info))
        arn = info.execution_arn

        def sink(event: Event) -> None:
            if recorded:
                self.records.add_event(arn, event)
            execution_log.write(event)

        def ended(outcome: Outcome) -> None:
            try:
                if recorded:
                    self.records.finish_execution(arn, ended_members(
                        outcome, datetime.now(UTC).timestamp()))
            finally:
                execution_log.close()
                with self._lock:
                    self._running.pop(arn, None)
            if on_end:
                on_end(outcome)

        execution = Execution(machine, execution_input, info, self.runner, sink, on_end=ended)
        with self._lock:
            self._running[arn] = execution
        return execution

    def get(self, arn: str) -> Execution | None:
        with self._lock:
            return self._running.get(arn)

    def of_machine(self, machine_arn: str) -> list[Execution]:
        with self._lock:
            return [e for e in self._running.values()
                    if e.info.state_machine_arn == machine_arn]

    def stop(self, arn: str, error: str | None, cause: str | None) -> bool:
        """Stop a running execution and wait (bounded) until its end is recorded; False if
        it does not run here."""
        execution = self.get(arn)
        if execution is None:
            return False
        execution.stop(error, cause)
        execution.wait(STOP_WAIT_SECONDS)
        return True

    def settle(self) -> None:
        """After a restart: close every execution the store says is RUNNING (none runs in a
        process that has just started) with the event that says why."""
        for arn in self.records.running():
            event = interrupted_event(self.records.last_event_id(arn), datetime.now(UTC))
            details = event["executionAbortedEventDetails"]
            self.records.finish_execution(arn, {
                "status": "ABORTED", "stopDate": event["timestamp"].timestamp(),
                "error": details["error"], "cause": details["cause"]}, event)
            log.info("execution %s was running when the local AWS stopped: ABORTED", arn)

    def shutdown(self, timeout: float = STOP_WAIT_SECONDS) -> None:
        """Abort every execution (their running jobs are stopped with them) and wait,
        bounded, until each has recorded its end; `settle` closes any that did not."""
        with self._lock:
            executions = list(self._running.values())
        for execution in executions:
            execution.stop(RESTARTED, SHUTDOWN_CAUSE)
        for execution in executions:
            execution.wait(timeout)
