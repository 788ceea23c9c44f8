"""Asynchronous invocations (`InvocationType=Event`, what S3 notifications and SNS send): queued
in the store before Invoke answers 202, run in the background, retried as Lambda retries them.

An event that fails (the function's error, a timeout, an exit) is run again after
RETRY_DELAYS (Lambda waits one minute, then two) up to the function's MaximumRetryAttempts
(2 unless PutFunctionEventInvokeConfig says otherwise), within its MaximumEventAgeInSeconds;
then it goes to the on-failure destination or dead-letter queue (models.py delivers it). A
throttled event waits without counting as an attempt. Events survive a restart of the local
AWS: one that was running is run again (Lambda delivers at least once, too).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from sagepipe.store import Store

log = logging.getLogger(__name__)

RETRY_DELAYS = (60.0, 120.0)  # before the second and the third attempt, as in AWS
DELAYS_VARIABLE = "SAGEPIPE_LAMBDA_RETRY_DELAYS"  # e.g. "0.5,0.5": shorter waits for tests
THROTTLE_DELAY = 1.0
RUNNERS = 8  # events running at once, all functions together

DDL = """
CREATE TABLE IF NOT EXISTS lambda_events (
    id TEXT PRIMARY KEY,          -- the invocation's request id, the same for every attempt
    function TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL,    -- attempts made so far
    due REAL NOT NULL,            -- epoch seconds of the next attempt
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Event:
    request_id: str
    function: str
    qualifier: str
    payload: bytes
    attempts: int
    created: float


class Outcome:
    """How an attempt ended."""

    SUCCEEDED, FAILED, THROTTLED, GONE = "succeeded", "failed", "throttled", "gone"


# Runs one attempt; returns an Outcome and, when it ran, the response payload and error.
Runner = Callable[[Event], tuple[str, bytes, str | None]]
# After the last attempt: the event, the outcome's condition, the response payload and error.
Finisher = Callable[[Event, str, bytes, str | None], None]
# The function's (MaximumRetryAttempts, MaximumEventAgeInSeconds).
Policy = Callable[[Event], tuple[int, int]]


def retry_delays() -> tuple[float, ...]:
    """The waits before the second and third attempt: Lambda's, unless the local AWS was
    started with SAGEPIPE_LAMBDA_RETRY_DELAYS (seconds, comma-separated)."""
    given = os.environ.get(DELAYS_VARIABLE, "")
    try:
        delays = tuple(float(part) for part in given.split(",")) if given else RETRY_DELAYS
    except ValueError:
        raise SystemExit(f"{DELAYS_VARIABLE}={given!r}: give seconds, comma-separated") from None
    return delays


class EventQueue:
    def __init__(self, store: Store, run: Runner, finish: Finisher, policy: Policy) -> None:
        store.declare(DDL)
        self.store = store
        self.run = run
        self.finish = finish
        self.policy = policy
        self.delays = retry_delays()
        self.running: set[str] = set()
        self.wake = threading.Condition()
        self.stopping = False
        self.pool: ThreadPoolExecutor | None = None
        self.thread: threading.Thread | None = None

    def put(self, function: str, qualifier: str, payload: bytes,
            request_id: str | None = None) -> str:
        """Queue an event; its request id."""
        event_id = request_id or str(uuid.uuid4())
        now = time.time()
        with self.store.tx() as db:
            db.execute("INSERT INTO lambda_events(id, function, qualifier, payload, attempts, "
                       "due, created) VALUES (?, ?, ?, ?, 0, ?, ?)",
                       (event_id, function, qualifier, payload, now, now))
        with self.wake:
            self.wake.notify()
        return event_id

    def drop(self, function: str) -> None:
        """Forget the queued events of a deleted function."""
        with self.store.tx() as db:
            db.execute("DELETE FROM lambda_events WHERE function=?", (function,))

    def start(self) -> None:
        self.stopping = False
        self.pool = ThreadPoolExecutor(RUNNERS, thread_name_prefix="lambda-event")
        self.thread = threading.Thread(target=self._dispatch, name="lambda-events", daemon=True)
        self.thread.start()

    def shutdown(self) -> None:
        """Stop dispatching; an event still running is left queued, to run after a restart."""
        with self.wake:
            self.stopping = True
            self.wake.notify()
        if self.thread is not None:
            self.thread.join(5)
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self) -> None:
        while True:
            with self.wake:
                if self.stopping:
                    return
                due = self._due()
                if not due:
                    row = self.store.one("SELECT MIN(due) AS next FROM lambda_events")
                    wait = 5.0 if row is None or row["next"] is None \
                        else max(0.01, min(5.0, row["next"] - time.time()))
                    self.wake.wait(wait)
                    continue
                for event in due:
                    self.running.add(event.request_id)
            for event in due:
                assert self.pool is not None
                self.pool.submit(self._attempt, event)

    def _due(self) -> list[Event]:
        free = RUNNERS - len(self.running)
        if free <= 0:
            return []
        rows = self.store.query("SELECT * FROM lambda_events WHERE due <= ? ORDER BY due",
                                time.time())
        return [Event(r["id"], r["function"], r["qualifier"], bytes(r["payload"]),
                      r["attempts"], r["created"])
                for r in rows if r["id"] not in self.running][:free]

    def _attempt(self, event: Event) -> None:
        try:
            outcome, payload, error = self.run(event)
            if not self.stopping:
                self._record(event, outcome, payload, error)
        except Exception:  # a bug of ours: keep the event, try again later
            log.exception("asynchronous invocation %s of %s failed", event.request_id,
                          event.function)
            self._reschedule(event, self.delays[-1])
        finally:
            with self.wake:
                self.running.discard(event.request_id)
                self.wake.notify()

    def _record(self, event: Event, outcome: str, payload: bytes, error: str | None) -> None:
        attempts = event.attempts + (outcome != Outcome.THROTTLED)
        retries, max_age = self.policy(event)
        event = replace(event, attempts=attempts)
        expired = time.time() - event.created > max_age
        if outcome == Outcome.GONE:
            self._remove(event)
        elif outcome == Outcome.SUCCEEDED:
            self._remove(event)
            self.finish(event, "Success", payload, None)
        elif expired:
            self._remove(event)
            self.finish(event, "EventAgeExceeded", payload, error)
        elif outcome == Outcome.THROTTLED:
            self._reschedule(event, THROTTLE_DELAY)
        elif attempts <= retries:
            self._reschedule(event, self.delays[min(attempts, len(self.delays)) - 1])
        else:
            self._remove(event)
            self.finish(event, "RetriesExhausted", payload, error)

    def _reschedule(self, event: Event, delay: float) -> None:
        with self.store.tx() as db:
            db.execute("UPDATE lambda_events SET attempts=?, due=? WHERE id=?",
                       (event.attempts, time.time() + delay, event.request_id))

    def _remove(self, event: Event) -> None:
        with self.store.tx() as db:
            db.execute("DELETE FROM lambda_events WHERE id=?", (event.request_id,))
