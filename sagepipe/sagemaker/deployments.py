"""What an endpoint deploys: a snapshot of its configuration and models, kept in the store
with the processes serving it, and how DescribeEndpoint shows it.

Table roles: `pending` (being brought up by CreateEndpoint/UpdateEndpoint), `active` (taking
traffic), `retired` (replaced by an update, draining). A row lives until its processes are
stopped, so the pids a crashed gateway left behind are always on record.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from sagepipe.store import Store

DEFAULT_STARTUP_TIMEOUT = 300.0  # seconds for /ping to answer 200, as SageMaker's default
DDL = """
CREATE TABLE IF NOT EXISTS sagemaker_deployments (
    endpoint TEXT NOT NULL,
    id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('pending', 'active', 'retired')),
    spec BLOB NOT NULL,
    processes BLOB NOT NULL DEFAULT '[]',
    PRIMARY KEY (endpoint, id)
);
"""


@dataclass
class VariantSpec:
    """A production variant as deployed: its config entry joined with its model's container."""

    name: str
    model: str
    image: str
    model_data_url: str | None
    environment: dict[str, str]
    weight: float
    instance_type: str | None = None
    instance_count: int | None = None
    serverless: dict[str, Any] | None = None
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT


@dataclass
class Deployment:
    """What one endpoint configuration deploys; a snapshot, so deleting the config or the
    models later does not change a running endpoint (as in AWS)."""

    id: str
    config: str
    variants: list[VariantSpec]
    capture: dict[str, Any] | None = None
    started: float = field(default_factory=time.time)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        return cls(**{**data, "variants": [VariantSpec(**v) for v in data["variants"]]})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_deployment_id() -> str:
    """A sortable id that names a deployment's logs and sandboxes: UTC time to the millisecond."""
    now = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1000):03d}"


@dataclass
class Record:
    endpoint: str
    role: str
    deployment: Deployment
    processes: list[list[int]]


class DeploymentTable:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.declare(DDL)

    def add(self, endpoint: str, deployment: Deployment, role: str) -> None:
        with self.store.tx() as db:
            db.execute("INSERT INTO sagemaker_deployments(endpoint, id, role, spec) "
                       "VALUES (?, ?, ?, ?)",
                       (endpoint, deployment.id, role, orjson.dumps(deployment.to_dict())))

    def set_processes(self, endpoint: str, deployment_id: str, processes: list[list[int]]) -> None:
        with self.store.tx() as db:
            db.execute("UPDATE sagemaker_deployments SET processes=? WHERE endpoint=? AND id=?",
                       (orjson.dumps(processes), endpoint, deployment_id))

    def activate(self, endpoint: str, deployment_id: str) -> None:
        """Make a deployment the active one; the one it replaces becomes retired."""
        with self.store.tx() as db:
            db.execute("UPDATE sagemaker_deployments SET role='retired' "
                       "WHERE endpoint=? AND role='active'", (endpoint,))
            db.execute("UPDATE sagemaker_deployments SET role='active' WHERE endpoint=? AND id=?",
                       (endpoint, deployment_id))

    def remove(self, endpoint: str, deployment_id: str | None = None) -> None:
        """Forget one deployment, or (id None) every deployment of the endpoint."""
        with self.store.tx() as db:
            if deployment_id is None:
                db.execute("DELETE FROM sagemaker_deployments WHERE endpoint=?", (endpoint,))
            else:
                db.execute("DELETE FROM sagemaker_deployments WHERE endpoint=? AND id=?",
                           (endpoint, deployment_id))

    def all(self) -> list[Record]:
        rows = self.store.query("SELECT endpoint, role, spec, processes FROM sagemaker_deployments")
        return [Record(r["endpoint"], r["role"], Deployment.from_dict(orjson.loads(r["spec"])),
                       orjson.loads(r["processes"])) for r in rows]


def retain(new: Deployment, current: Deployment, excluded: set[str]) -> None:
    """RetainAllVariantProperties: same-named variants keep their weight and count."""
    kept = {v.name: v for v in current.variants}
    for variant in new.variants:
        if old := kept.get(variant.name):
            if "DesiredWeight" not in excluded:
                variant.weight = old.weight
            if "DesiredInstanceCount" not in excluded:
                variant.instance_count = old.instance_count
    if "DataCaptureConfig" not in excluded:
        new.capture = current.capture


def pending_summary(deployment: Deployment) -> dict[str, Any]:
    """DescribeEndpoint's PendingDeploymentSummary while an update brings this deployment up."""
    started = time.time()
    return {"EndpointConfigName": deployment.config, "StartTime": started,
            "ProductionVariants": [
                {"VariantName": v.name, "DeployedImages": [{"SpecifiedImage": v.image}],
                 "DesiredWeight": v.weight, "DesiredInstanceCount": v.instance_count,
                 "InstanceType": v.instance_type,
                 "VariantStatus": [{"Status": "Creating", "StartTime": started}]}
                for v in deployment.variants]}


def serving_fields(deployment: Deployment, resolved_images: dict[str, str]) -> dict[str, Any]:
    """What DescribeEndpoint says about the deployment taking traffic (DataCaptureConfig None:
    the endpoint has none). `resolved_images`: variant name -> the image directory it runs."""
    variants = []
    for spec in deployment.variants:
        summary: dict[str, Any] = {
            "VariantName": spec.name, "CurrentWeight": spec.weight,
            "DesiredWeight": spec.weight,
            "DeployedImages": [{"SpecifiedImage": spec.image,
                                "ResolvedImage": resolved_images[spec.name],
                                "ResolutionTime": deployment.started}]}
        if spec.serverless is not None:
            summary["CurrentServerlessConfig"] = summary["DesiredServerlessConfig"] = (
                spec.serverless)
        else:
            summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = (
                spec.instance_count)
        variants.append(summary)
    fields: dict[str, Any] = {"EndpointConfigName": deployment.config,
                              "ProductionVariants": variants, "DataCaptureConfig": None}
    if capture := deployment.capture:
        enabled = capture.get("EnableCapture", True)
        fields["DataCaptureConfig"] = {
            "EnableCapture": enabled, "CaptureStatus": "Started" if enabled else "Stopped",
            "CurrentSamplingPercentage": capture["InitialSamplingPercentage"],
            "DestinationS3Uri": capture["DestinationS3Uri"],
            **({"KmsKeyId": capture["KmsKeyId"]} if "KmsKeyId" in capture else {})}
    return fields
