"""Local SageMaker endpoints whose variants really serve (InvokeEndpoint: invocations.py).

CreateEndpoint answers at once (Creating); a background thread brings the fleet up and the
endpoint becomes InService when every variant answers /ping, Failed otherwise. A server that
dies while its fleet serves is restarted (supervision.py), its variant shown as replacing its
instance meanwhile. UpdateEndpoint is blue/green: the new fleet must answer /ping before traffic
moves, routing then switches atomically, and the old fleet drains its in-flight invocations
before it is stopped; a failed update leaves the endpoint InService on the old fleet with a
FailureReason (SageMaker's rollback). Traffic moves all at once: a DeploymentConfig's
canary/linear steps and alarms are recorded (LastDeploymentConfig), not played out.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagepipe.config import Settings
from sagepipe.images import ImageRegistry
from sagepipe.processes import Cancelled, clip, kill_stale
from sagepipe.s3.object_store import ObjectStore
from sagepipe.sagemaker.capture import CaptureWriter
from sagepipe.sagemaker.catalog import ENDPOINT, ModelCatalog
from sagepipe.sagemaker.deployments import (
    Deployment,
    DeploymentTable,
    Record,
    pending_summary,
    retain,
    serving_fields,
)
from sagepipe.sagemaker.exceptions import ResourceNotFound, ValidationException
from sagepipe.sagemaker.hosting import DeploymentFailed, Fleet, Replica, Router, stop_replicas
from sagepipe.sagemaker.invocations import INVOCATION_TIMEOUT, Invoker
from sagepipe.sagemaker.job_kind import FAILURE_REASON_MAX
from sagepipe.sagemaker.listing import list_page
from sagepipe.sagemaker.resources import Document
from sagepipe.sagemaker.supervision import Supervisor

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = INVOCATION_TIMEOUT + 5
LIVE = ("Creating", "Updating", "SystemUpdating", "InService")


@dataclass
class _Task:
    thread: threading.Thread
    cancelled: threading.Event


class Endpoints:
    """Endpoints and their serving fleets; what a fleet deploys comes from the catalog of
    models and endpoint configurations."""

    def __init__(self, catalog: ModelCatalog, settings: Settings, s3: ObjectStore,
                 images: ImageRegistry) -> None:
        self.catalog = catalog
        self.resources = catalog.resources
        self.settings = settings
        self.s3 = s3
        self.images = images
        self.table = DeploymentTable(self.resources.store)
        self.router = Router()
        self.capture = CaptureWriter(s3)
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()  # guards _tasks
        # Create/Update/Delete run one at a time, so a delete always sees the task it cancels.
        self._control = threading.Lock()
        self._stopping = threading.Event()
        self.invoker = Invoker(self.router, self.capture, self.resources, settings)
        self.supervisor = Supervisor(self.router, settings.region, self._variant_health,
                                     self._record_processes)

    # -- gateway lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Kill what a crashed gateway left serving, then bring every live endpoint back up."""
        self._stopping.clear()
        self.capture.start()
        self.supervisor.start()
        records: dict[str, list[Record]] = {}
        for record in self.table.all():
            kill_stale(record.processes)
            records.setdefault(record.endpoint, []).append(record)
        for doc in self.resources.all(ENDPOINT):
            self._restore(doc, records.pop(doc["EndpointName"], []))
        for orphan in records:
            self.table.remove(orphan)

    def _restore(self, doc: Document, records: list[Record]) -> None:
        name, status = doc["EndpointName"], doc["EndpointStatus"]
        log.info("endpoint %s was %s when the local AWS last stopped", name, status)
        roles = {r.role: r.deployment for r in records}
        for retired in (r for r in records if r.role == "retired"):
            self.table.remove(name, retired.deployment.id)
        if status == "Deleting":
            self._spawn(name, self._delete, None)
        elif status == "Creating" and "pending" in roles:
            self._spawn(name, self._bring_up, roles["pending"], "create")
        elif status in LIVE and "active" in roles:
            note = None
            if "pending" in roles:
                self.table.remove(name, roles["pending"].id)
                note = (f"The local AWS stopped while updating to endpoint configuration "
                        f"{roles['pending'].config}; the endpoint stays on "
                        f"{roles['active'].config}. Run UpdateEndpoint again.")
            self._transition(name, LIVE, "SystemUpdating",
                             **({"FailureReason": note} if note else {}))
            self._spawn(name, self._bring_up, roles["active"], "restore")
        else:
            self.table.remove(name)
            if status in LIVE:
                self._transition(name, LIVE, "Failed", FailureReason=(
                    "The local AWS stopped before this endpoint's deployment was recorded; "
                    "delete the endpoint and create it again."))

    def shutdown(self) -> None:
        """Stop every serving process; documents stay so the next start restores them."""
        self._stopping.set()
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            task.cancelled.set()
        for task in tasks:
            task.thread.join()
        replicas = [r for fleet in self.router.fleets() for r in fleet.replicas.values()]
        log.info("stopping %d model server(s)", len(replicas))
        stop_replicas(replicas)
        self.supervisor.stop()
        self.capture.shutdown()

    # -- endpoints ---------------------------------------------------------------------------

    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointName"]
        deployment = self.catalog.deployment(params["EndpointConfigName"])
        now = time.time()
        doc = {"EndpointName": name, "EndpointArn": self.catalog.resource_arn(ENDPOINT, name),
               "EndpointConfigName": deployment.config, "EndpointStatus": "Creating",
               "CreationTime": now, "LastModifiedTime": now}
        if "DeploymentConfig" in params:
            doc["LastDeploymentConfig"] = params["DeploymentConfig"]
        with self._control:
            self.catalog.insert(ENDPOINT, name, doc)
            self.table.add(name, deployment, "pending")
            self._spawn(name, self._bring_up, deployment, "create")
        return {"EndpointArn": doc["EndpointArn"]}

    def update_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointName"]
        self.catalog.fetch(ENDPOINT, name)
        deployment = self.catalog.deployment(params["EndpointConfigName"])
        if params.get("RetainAllVariantProperties") and (current := self.router.get(name)):
            excluded = {p["VariantPropertyType"]
                        for p in params.get("ExcludeRetainedVariantProperties", [])}
            retain(deployment, current.deployment, excluded)

        def begin(doc: Document) -> None:
            status = doc["EndpointStatus"]
            if status != "InService":
                state = "in-progress" if status in LIVE else status.lower()
                raise ValidationException(f'Cannot update {state} endpoint "{doc["EndpointArn"]}".')
            doc.update(EndpointStatus="Updating", LastModifiedTime=time.time(),
                       PendingDeploymentSummary=pending_summary(deployment))
            if "DeploymentConfig" in params:
                doc["LastDeploymentConfig"] = params["DeploymentConfig"]

        with self._control:
            doc = self.catalog.change(ENDPOINT, name, begin)
            self.table.add(name, deployment, "pending")
            self._spawn(name, self._bring_up, deployment, "update")
        return {"EndpointArn": doc["EndpointArn"]}

    def delete_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointName"]

        def begin(doc: Document) -> None:
            if doc["EndpointStatus"] == "Deleting":
                raise ValidationException(
                    f'Endpoint "{doc["EndpointArn"]}" is already being deleted.')
            doc.update(EndpointStatus="Deleting", LastModifiedTime=time.time())

        with self._control:
            self.catalog.change(ENDPOINT, name, begin)
            with self._lock:
                previous = self._tasks.get(name)
            if previous is not None:
                previous.cancelled.set()
            self._spawn(name, self._delete, previous)
        return {}

    def describe_endpoint(self, params: dict[str, Any]) -> Document:
        return self.catalog.fetch(ENDPOINT, params["EndpointName"])

    def list_endpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        return list_page(self.resources.all(ENDPOINT), params, key="Endpoints",
                         name="EndpointName", status="EndpointStatus",
                         fields=("EndpointName", "EndpointArn", "CreationTime",
                                 "LastModifiedTime", "EndpointStatus"))

    # -- background work ---------------------------------------------------------------------

    def _spawn(self, name: str, work: Callable[..., None], *args: Any) -> None:
        """Run `work(name, *args, cancelled)` in a thread: one task per endpoint at a time."""
        cancelled = threading.Event()
        thread = threading.Thread(target=self._run, args=(name, work, args, cancelled),
                                  name=f"endpoint-{name}", daemon=True)
        with self._lock:
            self._tasks[name] = _Task(thread, cancelled)
        thread.start()

    def _run(self, name: str, work: Callable[..., None], args: tuple[Any, ...],
             cancelled: threading.Event) -> None:
        try:
            work(name, *args, cancelled)
        except Exception:  # a bug of ours: never leave the endpoint stuck in a transition
            log.exception("endpoint %s: background work failed", name)
            if not self._stopping.is_set():
                self._transition(name, LIVE, "Failed", FailureReason=(
                    "sagepipe hit an internal error; see the gateway log."))
        finally:
            with self._lock:
                if (task := self._tasks.get(name)) and task.thread is threading.current_thread():
                    del self._tasks[name]

    def _bring_up(self, name: str, deployment: Deployment, kind: str,
                  cancelled: threading.Event) -> None:
        """Start a deployment's fleet; `kind` is create, update or restore."""
        fleet = Fleet(self.settings, name, deployment)
        try:
            fleet.bring_up(self.s3, self.images, self.settings.region, cancelled,
                           lambda procs: self.table.set_processes(name, deployment.id, procs))
        except Cancelled:
            fleet.stop()
            return
        except DeploymentFailed as failure:
            fleet.stop()
            if not self._stopping.is_set():
                self._failed(name, deployment, kind, str(failure))
            return
        except BaseException:
            fleet.stop()
            raise
        self.table.activate(name, deployment.id)
        old = self.router.switch(name, fleet)
        expected = {"create": "Creating", "update": "Updating", "restore": "SystemUpdating"}
        clears = {"FailureReason": None} if kind != "restore" else {}
        self._transition(name, (expected[kind],), "InService", PendingDeploymentSummary=None,
                         **clears, **serving_fields(deployment, fleet.resolved_images()))
        if old is not None:
            deadline = time.monotonic() + DRAIN_TIMEOUT
            while not self.router.drain(old, 0.5):
                if cancelled.is_set() or time.monotonic() > deadline:
                    break
            old.stop()
            self.table.remove(name, old.deployment.id)

    def _failed(self, name: str, deployment: Deployment, kind: str, reason: str) -> None:
        self.table.remove(name, deployment.id)
        if kind == "update":
            current = self.router.get(name)
            rolled_back = current.deployment.config if current else "its previous configuration"
            self._transition(name, ("Updating",), "InService", PendingDeploymentSummary=None,
                             FailureReason=clip(
                                 f"Update to endpoint configuration {deployment.config} failed "
                                 f"and was rolled back to {rolled_back}: {reason}",
                                 FAILURE_REASON_MAX))
        else:
            self._transition(name, LIVE, "Failed", FailureReason=reason)

    def _delete(self, name: str, previous: _Task | None, _cancelled: threading.Event) -> None:
        if previous is not None:
            previous.thread.join()
        fleet = self.router.switch(name, None)
        if fleet is not None:
            fleet.stop()
        self.table.remove(name)
        self.resources.delete(ENDPOINT, name)

    def _variant_health(self, fleet: Fleet, replica: Replica) -> None:
        """DescribeEndpoint while a variant's server is restarted: no instance in service and
        a VariantStatus saying why; both restored once it serves again."""
        def apply(doc: Document) -> None:
            if self.router.get(fleet.endpoint) is not fleet or doc["EndpointStatus"] not in LIVE:
                return  # a fleet no longer serving: its variants are not the document's
            for variant in doc.get("ProductionVariants", []):
                if variant["VariantName"] != replica.spec.name:
                    continue
                if replica.healthy:
                    variant.pop("VariantStatus", None)
                else:
                    variant["VariantStatus"] = [{
                        "Status": "Creating", "StartTime": time.time(),
                        "StatusMessage": f"Replacing the instance: {replica.problem}"}]
                if "CurrentInstanceCount" in variant:
                    variant["CurrentInstanceCount"] = (
                        replica.spec.instance_count if replica.healthy else 0)

        with contextlib.suppress(ResourceNotFound):
            self.resources.update(ENDPOINT, fleet.endpoint, apply)

    def _record_processes(self, fleet: Fleet) -> None:
        """A restarted server's pid on record, for a gateway that crashes later to kill."""
        self.table.set_processes(fleet.endpoint, fleet.deployment.id,
                                 [r.process_record() for r in fleet.replicas.values()])

    def _transition(self, name: str, expected: tuple[str, ...], status: str,
                    **fields: Any) -> None:
        """Move the endpoint to `status` if it is in one of `expected` (fields None: removed).

        A transition that finds another status (e.g. Deleting) leaves the document alone.
        """
        def apply(doc: Document) -> None:
            if doc["EndpointStatus"] not in expected:
                return
            doc.update(EndpointStatus=status, LastModifiedTime=time.time())
            for key, value in fields.items():
                if value is None:
                    doc.pop(key, None)
                else:
                    doc[key] = value

        with contextlib.suppress(ResourceNotFound):  # deleted meanwhile: nothing to move
            self.resources.update(ENDPOINT, name, apply)
