"""Model servers kept alive, as SageMaker replaces an endpoint's failed instances.

The supervisor watches the replicas of every fleet taking traffic. When one's server process
has exited it is marked unhealthy (InvokeEndpoint routes around it, or answers
ServiceUnavailable while no variant can serve), and restarted in its sandbox after a backoff
(0 s, then 1, 2, 4, ... up to 30 s while restarts keep failing; a server that served for a
minute starts again from 0). It serves again once it answers /ping. A retired replica (its
fleet replaced or deleted) is never restarted. A server that hangs without exiting is not
detected: only its exit is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sagepipe.processes import Cancelled, ended, terminate
from sagepipe.sagemaker.hosting import STOP_GRACE, DeploymentFailed, Fleet, Replica, Router

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
BACKOFF_SECONDS = (0, 1, 2, 4, 8, 16, 30)
STABLE_SECONDS = 60.0  # served this long: the next failure is a first failure again


class Supervisor:
    """`changed(fleet, replica)` is called when a replica goes down or serves again, and
    `launched(fleet)` when a restart started a new process (to record its pid)."""

    def __init__(self, router: Router, region: str, changed: Callable[[Fleet, Replica], None],
                 launched: Callable[[Fleet], None]) -> None:
        self.router = router
        self.region = region
        self.changed = changed
        self.launched = launched
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recovering: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="model-server-supervisor",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and wait for restarts in progress (retire the fleets first: a
        restart waiting for a retired replica gives up)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            restarts = list(self._recovering.values())
        for thread in restarts:
            thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            for fleet in self.router.fleets():
                for replica in fleet.replicas.values():
                    if _exited(replica) and not replica.retired.is_set():
                        self._recover(fleet, replica)

    def _recover(self, fleet: Fleet, replica: Replica) -> None:
        with self._lock:
            if id(replica) in self._recovering:
                return
            thread = threading.Thread(target=self._restart, args=(fleet, replica), daemon=True,
                                      name=f"restart-{fleet.endpoint}-{replica.spec.name}")
            self._recovering[id(replica)] = thread
        thread.start()

    def _restart(self, fleet: Fleet, replica: Replica) -> None:
        try:
            self._restart_until_healthy(fleet, replica)
        except Exception:  # a bug of ours: the replica stays down, the gateway keeps running
            log.exception("endpoint %s: restarting variant %s failed", fleet.endpoint,
                          replica.spec.name)
        finally:
            with self._lock:
                self._recovering.pop(id(replica), None)

    def _restart_until_healthy(self, fleet: Fleet, replica: Replica) -> None:
        assert replica.proc is not None
        problem = f"its model server {ended(replica.proc.returncode)}"
        if time.monotonic() - replica.healthy_since >= STABLE_SECONDS:
            replica.restarts = 0
        while not replica.retired.is_set():
            delay = BACKOFF_SECONDS[min(replica.restarts, len(BACKOFF_SECONDS) - 1)]
            replica.restarts += 1
            replica.healthy = False
            replica.problem = f"{problem}; restart {replica.restarts} in {delay}s"
            self.changed(fleet, replica)
            replica.log.write(f"[sagepipe] {replica.problem}")
            log.warning("endpoint %s, variant %s: %s", fleet.endpoint, replica.spec.name,
                        replica.problem)
            if self._stop.wait(delay) or not replica.relaunch(self.region):
                return
            self.launched(fleet)
            try:
                replica.wait_healthy(replica.retired)
            except Cancelled:
                return
            except DeploymentFailed as failure:
                if replica.proc is not None:  # exited, or never answered /ping
                    terminate(replica.proc, STOP_GRACE)
                problem = str(failure).split(" Log: ")[0]
                continue
            replica.log.write("[sagepipe] the model server answers /ping again")
            self.changed(fleet, replica)
            return


def _exited(replica: Replica) -> bool:
    return replica.proc is not None and replica.proc.poll() is not None

