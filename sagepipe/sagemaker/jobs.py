"""SageMaker training, processing and transform jobs that really run, as the JSON protocol's
provider.

Create stores the Describe document and starts its run in a thread (`JobRun` for training and
processing, `TransformRun` for batch transform); the document is the only state (Describe reads
it, every change is one transaction). Sandboxes stay after a training or processing job ends,
for debugging, under `<home>/jobs/TrainingJob/<name>/` (and `ProcessingJob/`), laid out like
the container's `/opt/ml`; the process output is the CloudWatch log stream
`/aws/sagemaker/TrainingJobs` (or `ProcessingJobs`) `<name>/algo-1-<epoch>`, and
`/aws/sagemaker/TransformJobs` `<name>/<instance id>` (sagepipe/logs).

A name that no job has is a ValidationException "Requested resource not found." for Describe
and Stop, as SageMaker answers (its model declares ResourceNotFound, which it does not send:
aws/aws-sdk#165).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sagepipe.config import Settings
from sagepipe.images import ImageRegistry
from sagepipe.s3.object_store import ObjectStore
from sagepipe.sagemaker.catalog import ModelCatalog
from sagepipe.sagemaker.exceptions import ResourceInUse, ResourceNotFound, ValidationException
from sagepipe.sagemaker.job_kind import ContainerJobKind, JobKind
from sagepipe.sagemaker.job_run import ACTIVE, STOP_GRACE_SECONDS, JobRun, Run, kill_orphan
from sagepipe.sagemaker.listing import list_page
from sagepipe.sagemaker.processing import Processing
from sagepipe.sagemaker.resources import Document, Resources
from sagepipe.sagemaker.training import Training
from sagepipe.sagemaker.transform import Transform
from sagepipe.sagemaker.transform_run import TransformRun

Params = dict[str, Any]
RESTART_REASON = ("The local AWS stopped while this job ran, so the job did not finish; "
                  "start it again under a new name.")
NOT_FOUND = "Requested resource not found."


class Jobs:
    def __init__(self, resources: Resources, settings: Settings, s3: ObjectStore,
                 images: ImageRegistry, catalog: ModelCatalog) -> None:
        self.resources = resources
        self.images = images
        self.training = Training(settings, s3)
        self.processing = Processing(settings, s3)
        self.transform = Transform(settings, s3, catalog)
        self.kinds: tuple[JobKind, ...] = (self.training, self.processing, self.transform)
        self._runs: dict[tuple[str, str], Run[Any]] = {}
        self._lock = threading.Lock()

    # -- gateway life cycle ------------------------------------------------------------------

    def start(self) -> None:
        """Settle the jobs a previous gateway left running: their processes are gone with it
        (or are ended here), so InProgress becomes Failed and Stopping becomes Stopped."""
        for kind in self.kinds:
            for doc in self.resources.all(kind.resource):
                if doc[kind.status_field] not in ACTIVE:
                    continue
                kill_orphan(kind.pid_file(doc[kind.name_field]), doc[kind.arn_field])
                self.resources.update(kind.resource, doc[kind.name_field],
                                      partial(self._settle, kind))

    @staticmethod
    def _settle(kind: JobKind, doc: Document) -> None:
        status = "Stopped" if doc[kind.status_field] == "Stopping" else "Failed"
        kind.end(doc, status, reason=RESTART_REASON)

    def shutdown(self) -> None:
        """Stop every running job (SIGTERM, SIGKILL after the grace period): they end Stopped."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            self._request_stop(run.kind, run.name, "the local AWS is shutting down")
        for run in runs:
            run.join(STOP_GRACE_SECONDS + 30)

    # -- the API -----------------------------------------------------------------------------

    def create_training_job(self, params: Params) -> Params:
        return self._create(self.training, params)

    def describe_training_job(self, params: Params) -> Params:
        return self._describe(self.training, params["TrainingJobName"])

    def list_training_jobs(self, params: Params) -> Params:
        return self._list(self.training, params)

    def stop_training_job(self, params: Params) -> Params:
        return self._stop(self.training, params["TrainingJobName"])

    def create_processing_job(self, params: Params) -> Params:
        return self._create(self.processing, params)

    def describe_processing_job(self, params: Params) -> Params:
        return self._describe(self.processing, params["ProcessingJobName"])

    def list_processing_jobs(self, params: Params) -> Params:
        return self._list(self.processing, params)

    def stop_processing_job(self, params: Params) -> Params:
        return self._stop(self.processing, params["ProcessingJobName"])

    def create_transform_job(self, params: Params) -> Params:
        return self._create(self.transform, params)

    def describe_transform_job(self, params: Params) -> Params:
        return self._describe(self.transform, params["TransformJobName"])

    def list_transform_jobs(self, params: Params) -> Params:
        return self._list(self.transform, params)

    def stop_transform_job(self, params: Params) -> Params:
        return self._stop(self.transform, params["TransformJobName"])

    # -- shared by every kind ----------------------------------------------------------------

    def _create(self, kind: JobKind, params: Params) -> Params:
        kind.validate(params)
        name = params[kind.name_field]
        doc = kind.new_document(params, time.time())
        with self._lock:  # a Stop that sees the document also finds its run
            try:
                self.resources.create(kind.resource, name, doc)
            except ResourceInUse:
                raise ResourceInUse(
                    "Job name must be unique within an AWS account and region, and a "
                    f"job with this name already exists ({kind.arn(name)})") from None
            run = self._new_run(kind, doc)
            self._runs[kind.resource, name] = run
        run.start()
        return {kind.arn_field: doc[kind.arn_field]}

    def _new_run(self, kind: JobKind, doc: Document) -> Run[Any]:
        """A transform job serves its model; the other kinds run an entry point to its end."""
        if isinstance(kind, Transform):
            return TransformRun(kind, doc, self.resources, self.images, self._forget)
        assert isinstance(kind, ContainerJobKind)
        return JobRun(kind, doc, self.resources, self.images, self._forget)

    def _forget(self, run: Run[Any]) -> None:
        with self._lock:
            self._runs.pop((run.kind.resource, run.name), None)

    def _describe(self, kind: JobKind, name: str) -> Params:
        doc = self.resources.find(kind.resource, name)
        if doc is None:
            raise ValidationException(NOT_FOUND)
        return doc

    def _list(self, kind: JobKind, params: Params) -> Params:
        return list_page(self.resources.all(kind.resource), params,
                         key=f"{kind.resource}Summaries", name=kind.name_field,
                         fields=kind.summary_fields, status=kind.status_field)

    def _stop(self, kind: JobKind, name: str) -> Params:
        try:
            self._request_stop(kind, name, None, strict=True)
        except ResourceNotFound:
            raise ValidationException(NOT_FOUND) from None
        return {}

    def _request_stop(self, kind: JobKind, name: str, why: str | None,
                      strict: bool = False) -> None:
        """Mark the job Stopping and wake its run, which ends the process and the job.

        `strict`: a job that is not InProgress is a ValidationException (the Stop API);
        otherwise it is left as it is (shutdown racing a job's own end).
        """
        message = f"Stopping the job: {why}" if why else None
        self.resources.update(kind.resource, name, _stopping(kind, message, strict))
        with self._lock:
            run = self._runs.get((kind.resource, name))
        if run is not None:
            run.stop_requested.set()


def _stopping(kind: JobKind, message: str | None, strict: bool) -> Callable[[Document], None]:
    def change(doc: Document) -> None:
        status = doc[kind.status_field]
        if status == "InProgress":
            kind.mark_stopping(doc, message)
        elif strict:
            raise ValidationException(f"The request was rejected because the {kind.label} is in "
                                      f"status {status}.")
    return change
