"""Executions under way in this local AWS: the engine's `Execution`s, what they write as
they go, and what becomes of them when the local AWS stops or starts again.

Each event an execution emits is written to the store at once (`Records.add_event`) and as an
event of the execution's CloudWatch Logs stream, in the JSON record Step Functions logs
(`/aws/vendedlogs/states/<machine>`, what `aws logs` and `sagepipe logs` read); its end updates
the execution's document. EXPRESS executions, as in AWS, leave no history to query: only their
log. Every execution is logged, whatever the state machine's logging level (here the log is
what a developer looks at); its input and output only if the state machine's
LoggingConfiguration says includeExecutionData, as in AWS.

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
from typing import Any

from sagepipe.config import Settings
from sagepipe.logs.streams import states_stream
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
PAYLOAD_MEMBERS = ("input", "output", "parameters")
LOGGED_PAYLOAD_BYTES = 248 * 1024  # a logged input or output, escaped, is cut beyond this


def ended_members(outcome: Outcome, stop_date: float) -> Doc:
    """DescribeExecution's members that an outcome sets."""
    members: Doc = {"status": outcome.status, "stopDate": stop_date}
    if outcome.status == "SUCCEEDED":
        members.update(output=to_json(outcome.output), outputDetails={"included": True})
    for key, value in (("error", outcome.error), ("cause", outcome.cause)):
        if value:
            members[key] = value
    return members


def without_payloads(doc: Doc) -> Doc:
    """`doc` without its JSON payloads (input, output, parameters)."""
    return {k: v for k, v in doc.items() if k not in PAYLOAD_MEMBERS}


def event_without_payloads(event: Event) -> Event:
    """A history event without the payloads of its details (includeExecutionData false)."""
    return {k: without_payloads(v) if k.endswith("EventDetails") and isinstance(v, dict)
            else v for k, v in event.items()}


def log_record(event: Event, execution_arn: str) -> str:
    """A history event as Step Functions logs it to CloudWatch Logs: a JSON record with its
    id, type, details, previous event, time (epoch ms, a string) and execution ARN."""
    return to_json({"id": str(event["id"]), "type": event["type"],
                    "details": _clipped(event.get(details_member(event["type"])) or {}),
                    "previous_event_id": str(event["previousEventId"]),
                    "event_timestamp": str(_ms(event["timestamp"])),
                    "execution_arn": execution_arn})


def _clipped(details: Doc) -> Doc:
    """Details whose payloads fit a CloudWatch Logs event, as Step Functions logs them: one
    longer than LOGGED_PAYLOAD_BYTES once escaped is cut, its `*Details` saying truncated."""
    clipped = dict(details)
    for member in PAYLOAD_MEMBERS:
        text = clipped.get(member)
        if not isinstance(text, str) or _escaped_size(text) <= LOGGED_PAYLOAD_BYTES:
            continue
        while (size := _escaped_size(text)) > LOGGED_PAYLOAD_BYTES:
            text = text[:len(text) * LOGGED_PAYLOAD_BYTES // size]
        clipped.update({member: text, f"{member}Details": {"truncated": True}})
    return clipped


def _escaped_size(text: str) -> int:
    return len(to_json(text).encode())


def _ms(when: datetime) -> int:
    return round(when.timestamp() * 1000)  # whole ms (make_event): round absorbs float error


class Runs:
    """The executions this process runs, by ARN."""

    def __init__(self, records: Records, runner: TaskRunner, settings: Settings) -> None:
        self.records = records
        self.runner = runner
        self.settings = settings
        self._running: dict[str, Execution] = {}
        self._lock = threading.Lock()

    def execution(self, machine: StateMachine, execution_input: Any, info: ExecutionInfo,
                  recorded: bool, on_end: Callable[[Outcome], None] | None = None,
                  log_data: bool = False) -> Execution:
        """An execution whose events go to its log (with their payloads if `log_data`) and,
        if `recorded` (STANDARD), to the store; registered here until it ends."""
        stream = states_stream(self.settings, info.state_machine_name)
        arn = info.execution_arn

        def sink(event: Event) -> None:
            if recorded:
                self.records.add_event(arn, event)
            logged = event if log_data else event_without_payloads(event)
            stream.write(log_record(logged, arn), _ms(event["timestamp"]))

        def ended(outcome: Outcome) -> None:
            try:
                if recorded:
                    self.records.finish_execution(arn, ended_members(
                        outcome, datetime.now(UTC).timestamp()))
            finally:
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
