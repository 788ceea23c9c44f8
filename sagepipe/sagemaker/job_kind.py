"""What SageMaker's jobs share: names, Describe documents, state changes, S3 input and output.

A `JobKind` knows one job type's field names (all derived from `resource`, e.g. `TrainingJob`
-> `TrainingJobName`, `TrainingJobArn`, `TrainingJobStatus`, `DescribeTrainingJobResponse`)
and how to check a Create request. A `ContainerJobKind` (training, processing) also knows how to
lay out its sandbox and what to collect once its entry point has run: the runner
(`job_run.py`) drives that life cycle for both. Transform jobs serve a model instead
(`transform.py`, `transform_run.py`).
"""

from __future__ import annotations

import json
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from sagepipe.config import Settings, arn
from sagepipe.errors import AWSError, ValidationException
from sagepipe.logs.streams import LogStream, job_stream
from sagepipe.processes import clip
from sagepipe.protocols.service_models import service_model
from sagepipe.s3.object_store import ObjectStore
from sagepipe.sagemaker.resources import Document
from sagepipe.sagemaker.sandbox import Sandbox

FAILURE_REASON_MAX = 1024  # FailureReason's length limit in SageMaker's model
DEFAULT_MAX_RUNTIME = 86400  # SageMaker's default StoppingCondition.MaxRuntimeInSeconds
# SecondaryStatusTransitions[].StatusMessage, worded as SageMaker words them.
STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped: it ran longer than "
                          "StoppingCondition.MaxRuntimeInSeconds",
}


class JobFailure(Exception):
    """A job ends Failed; the message is its FailureReason, written for the job's author."""


@dataclass(frozen=True)
class Launch:
    """The process a job runs: argv inside the image, extra environment, metrics to scrape."""

    argv: list[str]
    env: dict[str, str]
    metric_definitions: list[dict[str, str]] = field(default_factory=list)


def add_transition(doc: Document, status: str, now: float, message: str | None = None) -> None:
    """Close the current SecondaryStatusTransition and open `status`, as Describe shows them."""
    transitions = doc.setdefault("SecondaryStatusTransitions", [])
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    transitions.append({"Status": status, "StartTime": now,
                        "StatusMessage": message or STATUS_MESSAGES[status]})
    doc["SecondaryStatus"] = status


def require_s3_uri(uri: str, where: str) -> None:
    if not uri.startswith("s3://"):
        raise ValidationException(f"{where} must be an s3:// URI for the local AWS (got {uri!r}).")


def require_under(path: str, root: PurePosixPath, where: str) -> None:
    """Container paths a job names must lie in the sandbox that stands for the container."""
    posix = PurePosixPath(path)
    if not posix.is_absolute() or ".." in posix.parts or not posix.is_relative_to(root):
        raise ValidationException(f"{where} must be an absolute path under {root} (got {path!r}).")


class JobKind(ABC):
    resource: ClassVar[str]  # "TrainingJob": the word SageMaker builds every field name from
    arn_type: ClassVar[str]  # "training-job"
    label: ClassVar[str]  # "training job", as SageMaker's messages name it
    log_group: ClassVar[str]  # "TrainingJobs", as in CloudWatch's /aws/sagemaker/TrainingJobs
    start_field: ClassVar[str]
    end_field: ClassVar[str]
    # Whether the kind reports SecondaryStatus and its transitions (training does).
    secondary: ClassVar[bool]

    def __init__(self, settings: Settings, s3: ObjectStore) -> None:
        self.settings = settings
        self.s3 = s3

    # -- names -------------------------------------------------------------------------------

    @property
    def name_field(self) -> str:
        return f"{self.resource}Name"

    @property
    def arn_field(self) -> str:
        return f"{self.resource}Arn"

    @property
    def status_field(self) -> str:
        return f"{self.resource}Status"

    @property
    def summary_fields(self) -> tuple[str, ...]:
        return tuple(service_model("sagemaker").shape_for(f"{self.resource}Summary").members)

    def arn(self, name: str) -> str:
        return arn("sagemaker", f"{self.arn_type}/{name.lower()}", self.settings.region)

    def sandbox_root(self, name: str) -> Path:
        """Where the job's `/opt/ml` lives on the host (kept after the job for debugging)."""
        return self.settings.subdir("jobs") / self.resource / name

    def pid_file(self, name: str) -> Path:
        return self.settings.subdir("jobs") / self.resource / f"{name}.pid"

    def log_stream(self, name: str) -> LogStream:
        """A new run's stream in `/aws/sagemaker/<log_group>`, named as SageMaker names it."""
        return job_stream(self.settings, self.log_group, name)

    # -- documents and their state changes ---------------------------------------------------

    def new_document(self, request: dict[str, Any], now: float) -> Document:
        """The Describe document of a just-created job: the request echoed, plus status fields."""
        members = service_model("sagemaker").shape_for(f"Describe{self.resource}Response").members
        doc = {k: v for k, v in request.items() if k in members}
        name = request[self.name_field]
        doc.update({self.arn_field: self.arn(name), self.status_field: "InProgress",
                    "CreationTime": now, "LastModifiedTime": now})
        if self.secondary:
            add_transition(doc, "Starting", now)
        return doc

    def mark_stopping(self, doc: Document, message: str | None = None) -> None:
        now = time.time()
        doc[self.status_field] = "Stopping"
        doc["LastModifiedTime"] = now
        if self.secondary:
            add_transition(doc, "Stopping", now, message)

    def end(self, doc: Document, status: str, *, reason: str | None = None,
            secondary: str | None = None) -> None:
        """Put `doc` in a final state: Completed, Failed or Stopped.

        A job asked to stop while it was finishing on its own ends Stopped, as in SageMaker.
        """
        now = time.time()
        if status == "Completed" and doc[self.status_field] == "Stopping":
            status = "Stopped"
        doc[self.status_field] = status
        doc[self.end_field] = now
        doc["LastModifiedTime"] = now
        if reason:
            doc["FailureReason"] = clip(reason, FAILURE_REASON_MAX)
        if self.secondary:
            add_transition(doc, secondary or status, now)
            doc["SecondaryStatusTransitions"][-1]["EndTime"] = now

    # -- what differs per kind ---------------------------------------------------------------

    @abstractmethod
    def validate(self, request: dict[str, Any]) -> None:
        """Semantic checks the botocore shape cannot express (ValidationException)."""

    # -- shared helpers for the kinds --------------------------------------------------------

    def fetch(self, s3_uri: str, data_type: str, dest: Path, what: str) -> None:
        """Copy one input (S3Prefix or ManifestFile) from local S3 into the sandbox."""
        dest.mkdir(parents=True, exist_ok=True)
        try:
            if data_type == "ManifestFile":
                self._fetch_manifest(s3_uri, dest)
            else:
                self.s3.download(s3_uri, dest)
        except AWSError as err:
            raise JobFailure(f'ClientError: Data download failed for {what} from "{s3_uri}": '
                             f"{err.message}") from None

    def _fetch_manifest(self, s3_uri: str, dest: Path) -> None:
        """Each object a manifest lists lands at `dest/<key relative to its prefix>`."""
        for key, uri in self.manifest(s3_uri):
            self.s3.download_object(uri, dest / key)

    def manifest(self, s3_uri: str) -> list[tuple[str, str]]:
        """A manifest `[{"prefix": "s3://b/p/"}, "key1", "dir/key2", ...]` as (key, its URI)
        pairs, in its order."""
        with tempfile.TemporaryDirectory(dir=self.settings.subdir("tmp")) as tmp:
            entries = _load_manifest(self.s3.download_object(s3_uri, Path(tmp, "manifest")),
                                     s3_uri)
        prefix = entries[0]["prefix"]
        for key in entries[1:]:
            if ".." in PurePosixPath(key).parts or key.startswith("/"):
                raise JobFailure(f"ClientError: manifest {s3_uri} lists {key!r}, which is not "
                                 "a key relative to its prefix.")
        return [(key, prefix + key) for key in entries[1:]]

    def upload(self, source: Path, s3_uri: str, what: str) -> None:
        """A file to the exact key `s3_uri`, or a directory's files under the prefix `s3_uri`."""
        try:
            if source.is_dir():
                self.s3.upload_tree(source, s3_uri)
            else:
                self.s3.upload(source, s3_uri)
        except AWSError as err:
            raise JobFailure(f'ClientError: Could not upload {what} to "{s3_uri}": '
                             f"{err.message}") from None


class ContainerJobKind(JobKind):
    """A job that runs its image's entry point to the end in a sandbox (training, processing)."""

    # Files under /opt/ml/output whose content becomes FailureReason, in order of preference.
    failure_files: ClassVar[tuple[str, ...]]

    @abstractmethod
    def image_uri(self, doc: Document) -> str: ...

    @abstractmethod
    def max_runtime(self, doc: Document) -> int: ...

    @abstractmethod
    def prepare(self, doc: Document, sandbox: Sandbox) -> Launch:
        """Write the job's config files and input data into the sandbox; say what to run."""

    @abstractmethod
    def collect(self, doc: Document, sandbox: Sandbox, stopped: bool) -> Document:
        """Upload what the process left behind; return the document fields that changed."""

    def exit_fields(self, sandbox: Sandbox) -> Document:
        """Fields taken from the container's files once its process has ended."""
        return {}

    def failure_reason(self, sandbox: Sandbox) -> str | None:
        """What the process wrote to /opt/ml/output/failure (or message), if anything."""
        for name in self.failure_files:
            text = read_text(sandbox.host(f"/opt/ml/output/{name}"))
            if text:
                return clip(text, FAILURE_REASON_MAX)
        return None


def _load_manifest(path: Path, s3_uri: str) -> list[Any]:
    problem = f"ClientError: {s3_uri} is not a manifest file: expected one JSON list " \
              '[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]'
    try:
        entries = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise JobFailure(problem) from None
    if (not isinstance(entries, list) or not entries or not isinstance(entries[0], dict)
            or not str(entries[0].get("prefix", "")).startswith("s3://")
            or not all(isinstance(k, str) for k in entries[1:])):
        raise JobFailure(problem)
    return entries


def read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))

