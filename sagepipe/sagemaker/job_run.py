"""Jobs run in background threads: `Run` takes a job from its start to a final state, `JobRun`
runs a training or processing job (sandbox, inputs, the process, metrics, outputs).

Whatever happens, a run ends its job in a final state (Completed, Failed with a reason, or
Stopped) and never leaves its process behind: an error inside the runner itself fails the job
with an InternalServerError reason.
"""

from __future__ import annotations

import logging
import shutil
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from sagepipe.clients import local_env
from sagepipe.images import Image, ImageRegistry, UnknownImage
from sagepipe.processes import signal_group, terminate
from sagepipe.sagemaker.job_kind import (
    ContainerJobKind,
    JobFailure,
    JobKind,
    Launch,
    add_transition,
)
from sagepipe.sagemaker.metrics import MetricScraper
from sagepipe.sagemaker.resources import Document, Resources
from sagepipe.sagemaker.sandbox import Sandbox

log = logging.getLogger(__name__)

# Set in every job process's environment: lets a restarted gateway recognise its orphans.
MARKER = "SAGEPIPE_JOB_ARN"
POLL_SECONDS = 0.25
# SIGTERM, then SIGKILL after this long (SageMaker waits 120 s; locally a stop should be quick).
STOP_GRACE_SECONDS = 10
LOG_TAIL_LINES = 10
ACTIVE = ("InProgress", "Stopping")
K = TypeVar("K", bound=JobKind)


class Run(ABC, Generic[K]):
    """One job in a background thread, from its start to a final state in its document."""

    def __init__(self, kind: K, doc: Document, resources: Resources, images: ImageRegistry,
                 done: Callable[[Run[Any]], None]) -> None:
        self.kind = kind
        self.doc = doc
        self.name: str = doc[kind.name_field]
        self.resources = resources
        self.images = images
        self.log = kind.log_stream(self.name)
        self.stop_requested = threading.Event()
        self._done = done
        self._thread = threading.Thread(target=self._main, daemon=True,
                                        name=f"{kind.resource}:{self.name}")

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def update(self, change: Callable[[Document], None]) -> Document:
        return self.resources.update(self.kind.resource, self.name, change)

    def _main(self) -> None:
        try:
            self._run()
        except JobFailure as failure:
            self._finish("Failed", reason=str(failure))
        except Exception as exc:
            log.exception("%s %s: the runner failed", self.kind.resource, self.name)
            self._finish("Failed", reason=f"InternalServerError: the local AWS failed while "
                         f"running this job ({type(exc).__name__}: {exc}); see the gateway log.")
        finally:
            self._done(self)

    @abstractmethod
    def _run(self) -> None:
        """The job's work; ends it with `_finish`, or raises JobFailure."""

    def _step(self, status: str, started: bool = False) -> None:
        """Enter a phase: a SecondaryStatus transition, and the start time when it starts."""
        if not (started or self.kind.secondary):
            return

        def change(doc: Document) -> None:
            if doc[self.kind.status_field] != "InProgress":
                return
            now = time.time()
            doc["LastModifiedTime"] = now
            if started:
                doc[self.kind.start_field] = now
            if self.kind.secondary:
                add_transition(doc, status, now)
        self.update(change)

    def _finish(self, status: str, *, reason: str | None = None, secondary: str | None = None,
                fields: Document | None = None) -> None:
        def change(doc: Document) -> None:
            if doc[self.kind.status_field] in ACTIVE:
                doc.update(fields or {})
                self.kind.end(doc, status, reason=reason, secondary=secondary)
        self.update(change)


class JobRun(Run[ContainerJobKind]):
    """A training or processing job: its entry point run to its end in a sandbox."""

    def _run(self) -> None:
        started = time.monotonic()
        try:
            image = self.images.resolve(self.kind.image_uri(self.doc))
        except UnknownImage as exc:
            raise JobFailure(str(exc)) from None
        root = self.kind.sandbox_root(self.name)
        shutil.rmtree(root, ignore_errors=True)  # a leftover of a job whose state was wiped
        sandbox = Sandbox(root)
        self._step("Downloading", started=True)
        launch = self.kind.prepare(self.doc, sandbox)
        if self.stop_requested.is_set():
            self._finish("Stopped")
            return
        self._step("Training")
        code, stopped_as = self._execute(image, sandbox, launch,
                                         started + self.kind.max_runtime(self.doc))
        fields = self.kind.exit_fields(sandbox)
        if stopped_as is None and code != 0:
            reason = self.kind.failure_reason(sandbox) or self._algorithm_error(launch, code)
            self._finish("Failed", reason=reason, fields=fields)
            return
        if stopped_as is None:
            self._step("Uploading")
        fields |= self.kind.collect(self.doc, sandbox, stopped=stopped_as is not None)
        stop_reason = None
        if stopped_as == "MaxRuntimeExceeded" and not self.kind.secondary:
            stop_reason = (f"MaxRuntimeExceeded: the job ran longer than StoppingCondition."
                           f"MaxRuntimeInSeconds ({self.kind.max_runtime(self.doc)} s) and was "
                           "stopped.")
        self._finish("Stopped" if stopped_as else "Completed", secondary=stopped_as,
                     reason=stop_reason, fields=fields)

    def _execute(self, image: Image, sandbox: Sandbox, launch: Launch,
                 deadline: float) -> tuple[int, str | None]:
        """Run the process to its end; returns its exit code and, if we stopped it, why."""
        scraper = MetricScraper(launch.metric_definitions, self.log)
        # The local AWS's endpoint and credentials, as a job in AWS has its role's.
        env = {**local_env(self.kind.settings), **launch.env, MARKER: self.doc[self.kind.arn_field]}
        try:
            proc = sandbox.launch(image, launch.argv, env, self.log)
        except OSError as exc:
            raise JobFailure(f"AlgorithmError: could not start {launch.argv[0]!r} from the "
                             f"image at {image.directory}: {exc}") from None
        pid_file = self.kind.pid_file(self.name)
        pid_file.write_text(str(proc.pid))
        stopped_as = None
        try:
            while proc.poll() is None:
                self._record_metrics(scraper)
                if self.stop_requested.is_set():
                    stopped_as = "Stopped"
                elif time.monotonic() >= deadline:
                    stopped_as = "MaxRuntimeExceeded"
                    self._mark_stopping(self.kind.max_runtime(self.doc))
                if stopped_as:
                    terminate(proc, STOP_GRACE_SECONDS)
                    break
                self.stop_requested.wait(POLL_SECONDS)
        finally:
            signal_group(proc.pid, signal.SIGKILL)  # helpers it left behind, or all on error
            proc.wait()
            pid_file.unlink(missing_ok=True)
        self._record_metrics(scraper, final=True)
        return proc.returncode, stopped_as

    def _record_metrics(self, scraper: MetricScraper, final: bool = False) -> None:
        if scraper.poll(final):
            data = scraper.metric_data
            self.update(lambda doc: doc.update(FinalMetricDataList=data))

    def _mark_stopping(self, limit: int) -> None:
        def change(doc: Document) -> None:
            if doc[self.kind.status_field] == "InProgress":
                self.kind.mark_stopping(doc, f"Stopping the job: it exceeded "
                                             f"StoppingCondition.MaxRuntimeInSeconds ({limit} s)")
        self.update(change)

    def _algorithm_error(self, launch: Launch, code: int) -> str:
        """FailureReason when the process failed without writing one."""
        how = f"exit code {code}" if code >= 0 else f"signal {_signal_name(-code)}"
        if code == 127:
            how += " (command not found: is it an executable in the image?)"
        return (f"AlgorithmError: {launch.argv[0]} exited with {how}. Last log lines:\n"
                + self.log.tail(LOG_TAIL_LINES))  # clipped by JobKind.end


def kill_orphan(pid_file: Path, job_arn: str) -> None:
    """End the process group of a job whose gateway died while it ran.

    The pid is only trusted if that process still carries the job's marker in its environment
    (a recycled pid belongs to someone else).
    """
    try:
        pid = int(pid_file.read_text())
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except (OSError, ValueError):
        environ = b""
    if f"{MARKER}={job_arn}".encode() in environ.split(b"\0"):
        signal_group(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
