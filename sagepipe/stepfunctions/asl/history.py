"""Execution history: AWS's event types and `*EventDetails` members (botocore's HistoryEvent
shape), numbered from 1 and linked by previousEventId, each handed to a sink as it happens.

Each thread of control (the execution, a Parallel branch, a Map iteration) has a `Trace`: its
events link to the previous event of the same trace, so the branches of a Parallel each start
from its ParallelStateStarted event, as in AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sagepipe.stepfunctions.asl.payload import to_json

Event = dict[str, Any]
RESTARTED = "LocalAws.Restarted"  # the error of an execution cut short by a restart
Sink = Callable[[Event], None]


class Trace:
    """The id of the last event of one thread of control."""

    def __init__(self, last: int = 0) -> None:
        self.last = last


def details_member(event_type: str) -> str:
    """The HistoryEvent member that holds an event type's details."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"


def with_payload(member: str, value: Any, **details: Any) -> dict[str, Any]:
    """Details with a JSON payload member (`input`/`output`) and its `*Details` companion."""
    return {**details, member: to_json(value), f"{member}Details": {"truncated": False}}


def error_details(error: str | None, cause: str | None, **details: Any) -> dict[str, Any]:
    """Details of a failure; AWS leaves out an empty error or cause."""
    return {**details, **({"error": error} if error else {}), **({"cause": cause} if cause else {})}


def make_event(event_id: int, previous_id: int, event_type: str, timestamp: datetime,
               details: dict[str, Any] | None = None) -> Event:
    """An event at `timestamp` cut to the millisecond, as AWS keeps history times: the log's
    event_timestamp (epoch ms) and the API's time (epoch seconds) are then one number, where
    two roundings of a time between two milliseconds could differ by one."""
    timestamp = timestamp.replace(microsecond=timestamp.microsecond // 1000 * 1000)
    event = {"timestamp": timestamp, "type": event_type, "id": event_id,
             "previousEventId": previous_id}
    if details is not None:
        event[details_member(event_type)] = details
    return event


class History:
    """Numbers and links events and passes each to the sink, in order, under one lock."""

    def __init__(self, sink: Sink, now: Callable[[], datetime]) -> None:
        self._sink = sink
        self._now = now
        self._lock = threading.Lock()
        self._next_id = 1

    def emit(self, trace: Trace, event_type: str, details: dict[str, Any] | None = None) -> int:
        with self._lock:
            event_id = self._next_id
            self._next_id += 1
            self._sink(make_event(event_id, trace.last, event_type, self._now(), details))
            trace.last = event_id
            return event_id


def interrupted_event(last_event_id: int, timestamp: datetime) -> Event:
    """The event that ends an execution the local AWS was running when it stopped: the
    service appends it (after the execution's last stored event) when it starts again, so
    that the execution ends ABORTED with the reason and keeps its history."""
    return make_event(last_event_id + 1, last_event_id, "ExecutionAborted", timestamp,
                      error_details(RESTARTED, "The local AWS stopped while this execution "
                                    "was running; it was not resumed"))
