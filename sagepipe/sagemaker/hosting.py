"""Serving fleets: the `serve` processes behind an endpoint, one per production variant.

A SageMaker variant runs `InitialInstanceCount` instances of its image; locally one process
stands in for them all (the count is recorded and reported, not multiplied), seeing its model
under `/opt/ml/model` through its own Sandbox. It listens on 8080 in a network namespace of its
own where the machine allows one (reached through its connection broker, `relay.py`), else on
a free 127.0.0.1 port named by SAGEMAKER_BIND_TO_PORT; either way the local AWS addresses it as
`http://127.0.0.1:<port>` through the relay's HTTP transports.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from sagepipe.clients import local_env
from sagepipe.config import HOST, Settings
from sagepipe.errors import AWSError
from sagepipe.images import Image, ImageRegistry, UnknownImage
from sagepipe.logs.streams import LogStream, endpoint_stream, instance_id
from sagepipe.processes import (
    Cancelled,
    NotReady,
    clip,
    ended,
    free_port,
    listener,
    start_ticks,
    terminate,
    wait_ready,
)
from sagepipe.runtime.exceptions import ServiceUnavailable, ValidationError
from sagepipe.s3.object_store import ObjectStore
from sagepipe.sagemaker import relay
from sagepipe.sagemaker.deployments import Deployment, VariantSpec
from sagepipe.sagemaker.job_kind import FAILURE_REASON_MAX
from sagepipe.sagemaker.sandbox import SERVING_PORT, Sandbox, network_namespaces

STOP_GRACE = 10.0
PING_TIMEOUT = 2.0
# httpx logs every request at INFO: one gateway log line per health poll.
logging.getLogger("httpx").setLevel(logging.WARNING)
# Health checks of every server, from the supervisor's and the deployments' threads.
_pings = httpx.Client(transport=relay.sync_transport(), timeout=PING_TIMEOUT, trust_env=False)


class DeploymentFailed(Exception):
    """A fleet could not come up; the message is the endpoint's FailureReason."""


def failure_reason(summary: str, log: LogStream) -> str:
    """`summary` plus the end of the process's log."""
    return clip(f"{summary} Log: {log}. Last lines:\n{log.tail()}", FAILURE_REASON_MAX)


class Replica:
    """One `serve` process of a model: a variant's in one deployment of an endpoint, or a
    transform job's. `role` names it in failure reasons ("production variant AllTraffic");
    its sandbox lives under `root` and its output goes to the log stream `log`."""

    def __init__(self, settings: Settings, spec: VariantSpec, *, role: str, root: Path,
                 log: LogStream) -> None:
        self.settings = settings
        self.spec = spec
        self.role = role
        self.root = root
        self.log = log
        self.image: Image | None = None
        self.sandbox: Sandbox | None = None
        self.port = 0  # the host port it is addressed by (see the module's docstring)
        self.namespaced = False  # in a network namespace of its own, listening on 8080
        self.proc: subprocess.Popen[bytes] | None = None
        self.deadline = 0.0
        self.ping_outcome = "got no answer"
        # Health, as the supervisor (supervision.py) keeps it: traffic goes to healthy
        # replicas only; `problem` says why one is not; a retired one is never restarted.
        self.healthy = False
        self.healthy_since = 0.0
        self.problem: str | None = None
        self.restarts = 0
        self.retired = threading.Event()
        self._launching = threading.Lock()

    @property
    def log_path(self) -> Path:
        """The file of the replica's log stream (InvokeEndpoint's errors point to it)."""
        return self.log.path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def prepare(self, s3: ObjectStore, images: ImageRegistry) -> Sandbox:
        """A fresh sandbox with the model archive unpacked into its /opt/ml/model."""
        try:
            self.image = images.resolve(self.spec.image)
        except UnknownImage as exc:
            raise DeploymentFailed(str(exc)) from None
        shutil.rmtree(self.root, ignore_errors=True)
        sandbox = Sandbox(self.root)
        if url := self.spec.model_data_url:
            with tempfile.TemporaryDirectory(dir=self.root) as tmp:
                archive = Path(tmp) / "model.tar.gz"
                try:
                    s3.download_object(url, archive)
                except AWSError as err:
                    raise DeploymentFailed(f"Could not access model data at {url}: "
                                           f"{err.message}") from None
                try:
                    with tarfile.open(archive) as tar:
                        tar.extractall(sandbox.host("/opt/ml/model"), filter="data")
                except (tarfile.TarError, OSError) as exc:
                    raise DeploymentFailed(
                        f"Failed to extract model data archive from URL {url} ({exc}). "
                        "Please ensure that the object located at the URL is a valid tar.gz "
                        "archive.") from None
        self.sandbox = sandbox
        return sandbox

    def launch(self, sandbox: Sandbox, region: str) -> None:
        assert self.image is not None
        relay.detach(self.port)  # the broker of its previous process, if any
        self.port = 0
        self.namespaced = network_namespaces()
        # In its own namespace it binds 8080 on any address, as in SageMaker, and its broker
        # gets a host port once it runs; on the host, a free port on 127.0.0.1 only.
        broker = relay.Broker() if self.namespaced else None
        if broker is not None:
            bind = {"SAGEMAKER_BIND_TO_PORT": str(SERVING_PORT),
                    "MODEL_SERVER_HOST": "0.0.0.0"}  # noqa: S104 - its own network
        else:
            self.port = free_port()
            bind = {"SAGEMAKER_BIND_TO_PORT": str(self.port), "MODEL_SERVER_HOST": HOST}
        env = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(os.cpu_count() or 1),
               **self.spec.environment, **local_env(self.settings), **bind,
               "AWS_REGION": region}
        try:
            self.proc = sandbox.launch(self.image, ["serve"], env, self.log, broker=broker)
        except BaseException:
            if broker is not None:
                broker.close()
            raise
        if broker is not None:
            self.port = relay.attach(broker)
        self.ping_outcome = "got no answer"
        self.deadline = time.monotonic() + self.spec.startup_timeout

    def relaunch(self, region: str) -> bool:
        """Start the server again in its sandbox (its model is still there), unless the
        replica was retired meanwhile; whether it was started."""
        with self._launching:
            if self.retired.is_set() or self.sandbox is None:
                return False
            self.launch(self.sandbox, region)
            return True

    def retire(self) -> None:
        """Never start this replica's server again (its fleet is being stopped)."""
        with self._launching:
            self.retired.set()
            self.healthy = False

    def process_record(self) -> list[int]:
        assert self.proc is not None
        return [self.proc.pid, start_ticks(self.proc.pid) or 0]

    def answers_ping(self) -> bool:
        try:
            status = _pings.get(f"{self.url}/ping").status_code
        except httpx.TimeoutException:
            self.ping_outcome = f"did not answer within {PING_TIMEOUT:.0f}s"
            return False
        except httpx.HTTPError as exc:
            self.ping_outcome = f"could not connect ({exc})"
            return False
        self.ping_outcome = f"answered HTTP {status}"
        return status == 200

    def ping_target(self) -> str:
        """Where the health check knocks, and what else the server listens on, for a reason."""
        if self.namespaced:
            where = f"port {SERVING_PORT} inside the model server's own network namespace"
        else:
            where = (f"127.0.0.1:{self.port}, the port SAGEMAKER_BIND_TO_PORT names (this "
                     "machine gives model servers no network namespace of their own, so a "
                     "server must listen where SAGEMAKER_BIND_TO_PORT says, not on 8080)")
        ports = self._listening()
        if ports:
            where += f"; its processes listen on {', '.join(map(str, ports))}"
        return where

    def _listening(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        if self.namespaced:
            return relay.listening_ports(self.proc.pid)
        found = listener(SERVING_PORT)
        return [SERVING_PORT] if found and _in_group(found[0], self.proc.pid) else []

    def wait_healthy(self, cancelled: threading.Event) -> None:
        """Return once /ping answers 200; DeploymentFailed if the process dies or time runs
        out, Cancelled if the deployment is abandoned meanwhile."""
        assert self.proc is not None
        timeout = max(0.0, self.deadline - time.monotonic())
        try:
            wait_ready(self.proc, self.answers_ping, timeout, cancelled=cancelled)
            self.healthy, self.healthy_since, self.problem = True, time.monotonic(), None
        except NotReady as failure:
            if failure.code is not None:
                how = f": its serve process {ended(failure.code)}"
            else:
                how = (f" within {self.spec.startup_timeout:.0f}s: GET /ping on "
                       f"{self.ping_target()} {self.ping_outcome}")
            raise DeploymentFailed(failure_reason(
                f"The primary container for {self.role} did not pass "
                f"the ping health check{how}.", self.log)) from None

    def exit_note(self) -> str:
        """How the server process ended (`, its process ...`), or nothing while it runs."""
        code = None if self.proc is None else self.proc.poll()
        return "" if code is None else f", its process {ended(code)}"



def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except OSError:
        return False


def _variant_replica(settings: Settings, endpoint: str, deployment: str,
                     spec: VariantSpec) -> Replica:
    """A variant's replica: its sandbox named after the endpoint, variant and deployment, its
    log the stream `<variant>/<instance id>` of /aws/sagemaker/Endpoints/<endpoint>."""
    return Replica(settings, spec, role=f"production variant {spec.name}",
                   root=settings.subdir("endpoints") / endpoint / f"{spec.name}-{deployment}",
                   log=endpoint_stream(settings, endpoint, spec.name,
                                       instance_id(f"{endpoint}/{deployment}/{spec.name}")))


def stop_replicas(replicas: list[Replica], grace: float = STOP_GRACE) -> None:
    """Retire every replica, stop its server (TERM, then KILL after `grace`) and drop the
    sandboxes."""
    for replica in replicas:
        replica.retire()
    terminate([r.proc for r in replicas if r.proc is not None], grace)
    for replica in replicas:
        relay.detach(replica.port)
        shutil.rmtree(replica.root, ignore_errors=True)


class Fleet:
    """One deployment's replicas, with the number of invocations in flight through them."""

    def __init__(self, settings: Settings, endpoint: str, deployment: Deployment) -> None:
        self.endpoint = endpoint
        self.deployment = deployment
        self.replicas = {v.name: _variant_replica(settings, endpoint, deployment.id, v)
                         for v in deployment.variants}
        self.inflight = 0  # guarded by the Router's lock

    def bring_up(self, s3: ObjectStore, images: ImageRegistry, region: str,
                 cancelled: threading.Event,
                 on_launch: Callable[[list[list[int]]], None]) -> None:
        """Prepare, launch and health-check every replica; `on_launch(records)` once started.

        Raises DeploymentFailed or Cancelled; the caller stops the fleet either way.
        """
        sandboxes = [r.prepare(s3, images) for r in self.replicas.values()]
        if cancelled.is_set():
            raise Cancelled
        for replica, sandbox in zip(self.replicas.values(), sandboxes, strict=True):
            replica.launch(sandbox, region)
        on_launch([r.process_record() for r in self.replicas.values()])
        for replica in self.replicas.values():  # launched together: each has its own deadline
            replica.wait_healthy(cancelled)

    def resolved_images(self) -> dict[str, str]:
        """Variant name -> the image directory its server runs from."""
        return {name: str(r.image.directory if r.image else None)
                for name, r in self.replicas.items()}

    def pick(self, target_variant: str | None) -> Replica:
        """The variant named by TargetVariant, else one drawn by the weights of the variants
        whose server is healthy (traffic routes around one being restarted);
        ServiceUnavailable when none can take the call."""
        if target_variant is not None:
            if target_variant not in self.replicas:
                raise ValidationError(f"The variant {target_variant} is not a production "
                                      f"variant of endpoint {self.endpoint}; it has "
                                      f"{', '.join(self.replicas)}.")
            return self._serving([self.replicas[target_variant]])[0]
        replicas = [r for r in self.replicas.values() if r.spec.weight > 0]
        if not replicas:
            raise ValidationError(f"Every production variant of endpoint {self.endpoint} has "
                                  "weight 0; name one with TargetVariant.")
        healthy = self._serving(replicas)
        if len(healthy) == 1:  # the usual endpoint: no weights to draw from (on the hot path)
            return healthy[0]
        return random.choices(healthy, [r.spec.weight for r in healthy])[0]  # noqa: S311 - traffic split, not crypto

    def _serving(self, replicas: list[Replica]) -> list[Replica]:
        healthy = [r for r in replicas if r.healthy]
        if not healthy:
            why = "; ".join(f"production variant {r.spec.name}: {r.problem or 'not ready'}"
                            for r in replicas)
            raise ServiceUnavailable(f"No model server of endpoint {self.endpoint} is healthy "
                                     f"({why}); it is being restarted, retry shortly.")
        return healthy

    def stop(self) -> None:
        stop_replicas(list(self.replicas.values()))


class Router:
    """Endpoint name -> the fleet serving it; switched atomically, with in-flight counts."""

    def __init__(self) -> None:
        self._fleets: dict[str, Fleet] = {}
        self._changed = threading.Condition()

    def acquire(self, endpoint: str) -> Fleet | None:
        with self._changed:
            fleet = self._fleets.get(endpoint)
            if fleet is not None:
                fleet.inflight += 1
            return fleet

    def release(self, fleet: Fleet) -> None:
        with self._changed:
            fleet.inflight -= 1
            if fleet.inflight == 0:
                self._changed.notify_all()

    def switch(self, endpoint: str, fleet: Fleet | None) -> Fleet | None:
        """Route `endpoint` to `fleet` (None: stop routing); returns the fleet it replaced."""
        with self._changed:
            old = self._fleets.pop(endpoint, None)
            if fleet is not None:
                self._fleets[endpoint] = fleet
            return old

    def drain(self, fleet: Fleet, timeout: float) -> bool:
        """Wait until no invocation is in flight through `fleet` (no longer routed to)."""
        with self._changed:
            return self._changed.wait_for(lambda: fleet.inflight == 0, timeout)

    def get(self, endpoint: str) -> Fleet | None:
        with self._changed:
            return self._fleets.get(endpoint)

    def fleets(self) -> list[Fleet]:
        with self._changed:
            return list(self._fleets.values())
