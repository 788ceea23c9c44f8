"""Cancellation and time: what lets a stop reach every wait, retry and task of an execution.

An execution owns a root `Cancellation`; every branch, Map iteration and task attempt gets a
child of it, so `StopExecution` (or the execution's TimeoutSeconds, or a failing sibling
branch) reaches whatever is under way. All sleeping goes through a `Clock`, whose `sleep`
returns early, raising Aborted, when the cancellation fires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sagepipe.stepfunctions.asl.errors import Aborted

STOPPED = "stopped"  # StopExecution
TIMED_OUT = "timed out"  # the execution's TimeoutSeconds
SIBLING_FAILED = "sibling failed"  # another branch or iteration failed


class Cancellation:
    """A cancel signal that also cancels its children; `event` is set once cancelled."""

    def __init__(self, parent: Cancellation | None = None) -> None:
        self.event = threading.Event()
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._children: list[Cancellation] = []
        self._callbacks: list[Callable[[], None]] = []
        self._parent = parent
        if parent is not None:
            parent._adopt(self)

    def _adopt(self, child: Cancellation) -> None:
        with self._lock:
            if not self.event.is_set():
                self._children.append(child)
                return
        child.cancel(self.reason or STOPPED)

    def child(self) -> Cancellation:
        return Cancellation(self)

    def release(self) -> None:
        """Forget this child once its work is over (long executions make many)."""
        if self._parent is not None:
            with self._parent._lock:
                if self in self._parent._children:
                    self._parent._children.remove(self)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if not self.event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def cancel(self, reason: str) -> None:
        with self._lock:
            if self.event.is_set():
                return
            self.reason = reason
            self.event.set()
            children, callbacks = list(self._children), list(self._callbacks)
        for callback in callbacks:
            callback()
        for child in children:
            child.cancel(reason)

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()

    def check(self) -> None:
        if self.event.is_set():
            raise Aborted(self.reason)


class Clock:
    """Real time: the default. Tests give a clock that records sleeps instead of sleeping."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, cancel: Cancellation) -> None:
        """Sleep `seconds`, or raise Aborted as soon as `cancel` fires."""
        if cancel.event.wait(max(seconds, 0)):
            raise Aborted(cancel.reason)
        cancel.check()
