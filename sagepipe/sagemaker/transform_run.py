"""One batch transform job, run in a background thread.

The model serves as on an endpoint (`hosting.Replica`, with SAGEMAKER_BATCH=true); once it
answers /ping, every input object is split, batched and sent to /invocations by up to
MaxConcurrentTransforms requests at once, and its answers are assembled in order into
`<S3OutputPath>/<name>.out`. As in SageMaker (docs batch-transform, "Batch Transform Errors"),
an object with a record the model rejects gets no output, the other objects are still
transformed, and the job ends Failed; the per-object messages go to the job's log as SageMaker's
data log words them (`[sagemaker logs]: bucket/key: ClientError: 400`, then the model's
message). Retries (ModelClientConfig.InvocationsMaxRetries) are for timeouts, lost connections
and 5xx answers; a 4xx is the record's fault and is not retried.
"""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from sagepipe.errors import AWSError
from sagepipe.processes import Cancelled
from sagepipe.sagemaker.hosting import DeploymentFailed, Replica, stop_replicas
from sagepipe.sagemaker.job_kind import JobFailure
from sagepipe.sagemaker.job_run import MARKER, Run
from sagepipe.sagemaker.relay import sync_transport
from sagepipe.sagemaker.transform import (
    DEFAULT_INVOCATION_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    STRATEGY_ENV,
    BatchSettings,
    Transform,
    execution_parameters,
)
from sagepipe.sagemaker.transform_records import (
    Batch,
    DataProcessing,
    RecordError,
    assemble,
    batches,
    split_records,
)

POLL_SECONDS = 0.25
LOG_TAIL_LINES = 10


class _Stopped(Exception):
    """StopTransformJob (or the gateway's shutdown) interrupted the run."""


@dataclass
class ObjectFailure(Exception):
    """One input object could not be transformed: `kind` is SageMaker's error class
    (ClientError, AlgorithmError), `status` its data-log line, `message` the model's words."""

    kind: str
    status: str
    message: str = ""


@dataclass
class _Object:
    """One input object on its way through the run, and its output file."""

    uri: str
    relative: str
    output: IO[bytes]
    failure: ObjectFailure | None = None
    records: list[bytes] = field(default_factory=list)

    @property
    def name(self) -> str:
        """`bucket/key`, as SageMaker's data log names objects."""
        return self.uri.removeprefix("s3://")


class TransformRun(Run[Transform]):
    def _run(self) -> None:
        self._step("InProgress", started=True)
        processing = self.kind.data_processing(self.doc)
        objects = self.kind.input_objects(self.doc)
        root = self.kind.sandbox_root(self.name)
        replica = Replica(self.kind.settings, self.kind.model_spec(self.doc, self._batch_env()),
                          role=f"transform job {self.name}", root=root,
                          log=self.log)
        try:
            self._serve(replica)
            settings = BatchSettings.resolve(self.doc, self._advertised(replica))
            self.data_log(settings.log_line())
            failures = _Transformer(self, replica, settings, processing).run(objects)
        except _Stopped:
            failures = []
        finally:
            stop_replicas([replica])
            self.kind.pid_file(self.name).unlink(missing_ok=True)
        if self.stop_requested.is_set():
            self._finish("Stopped")
        elif failures:
            self._finish("Failed", reason=self._failure_reason(failures, len(objects)))
        else:
            self._finish("Completed")

    def _batch_env(self) -> dict[str, str]:
        """What SageMaker sets for a batch container; the last three only when the request
        sets them (docs your-algorithms-batch-code)."""
        env = {"SAGEMAKER_BATCH": "true", MARKER: self.doc["TransformJobArn"]}
        if "MaxPayloadInMB" in self.doc:
            env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(self.doc["MaxPayloadInMB"])
        if "BatchStrategy" in self.doc:
            env["SAGEMAKER_BATCH_STRATEGY"] = STRATEGY_ENV[self.doc["BatchStrategy"]]
        if self.doc.get("MaxConcurrentTransforms"):
            env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(self.doc["MaxConcurrentTransforms"])
        return env

    def _serve(self, replica: Replica) -> None:
        """Start the model's server and wait for /ping (raises _Stopped or JobFailure)."""
        try:
            sandbox = replica.prepare(self.kind.s3, self.images)
            if self.stop_requested.is_set():
                raise _Stopped
            replica.launch(sandbox, self.kind.settings.region)
            self.kind.pid_file(self.name).write_text(str(replica.process_record()[0]))
            replica.wait_healthy(self.stop_requested)
        except Cancelled:
            raise _Stopped from None
        except DeploymentFailed as failure:
            raise JobFailure(f"ClientError: {failure}") from None

    @staticmethod
    def _advertised(replica: Replica) -> dict[str, object]:
        """The container's optional GET /execution-parameters answer."""
        try:
            with httpx.Client(transport=sync_transport(), timeout=2, trust_env=False) as http:
                reply = http.get(f"{replica.url}/execution-parameters")
            return execution_parameters(reply.json()) if reply.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}

    def data_log(self, line: str) -> None:
        """A line of SageMaker's data log, in the job's log (beside the server's output)."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        self.log.write(f"{now}:[sagemaker logs]: {line}")

    def _failure_reason(self, failures: list[tuple[str, ObjectFailure]], total: int) -> str:
        name, first = failures[0]
        message = f". Message: {first.message}" if first.message else ""
        return (f"{first.kind}: See job logs for more information (sagepipe logs {self.name}). "
                f"{len(failures)} of {total} input object(s) failed; the first, {name}: "
                f"{first.status}{message}")


class _Transformer:
    """Sends one run's objects to its model server and writes their outputs, in order."""

    def __init__(self, run: TransformRun, replica: Replica, settings: BatchSettings,
                 processing: DataProcessing | None) -> None:
        self.job = run
        self.replica = replica
        self.settings = settings
        self.processing = processing
        doc = run.doc
        client_config = doc.get("ModelClientConfig") or {}
        self.timeout = client_config.get("InvocationsTimeoutInSeconds",
                                         DEFAULT_INVOCATION_TIMEOUT)
        self.retries = client_config.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES)
        self.split_type = doc["TransformInput"].get("SplitType", "None")
        self.gzip = doc["TransformInput"].get("CompressionType") == "Gzip"
        self.by_line = doc["TransformOutput"].get("AssembleWith") == "Line"
        self.headers = {name: value for name, value in (
            ("Content-Type", doc["TransformInput"].get("ContentType")),
            ("Accept", doc["TransformOutput"].get("Accept"))) if value}
        self.work = run.kind.sandbox_root(run.name) / "transform"
        self.failures: list[tuple[str, ObjectFailure]] = []
        self.http = httpx.Client(
            timeout=httpx.Timeout(self.timeout, connect=5), trust_env=False,
            transport=sync_transport(httpx.Limits(max_connections=settings.concurrency)))
        self.pool = ThreadPoolExecutor(settings.concurrency,
                                       thread_name_prefix=f"transform-{run.name}")
        # Requests sent ahead of the one being assembled: enough to keep every slot busy.
        self.window: deque[tuple[_Object, Future[bytes] | None, Batch | None]] = deque()

    def run(self, objects: list[tuple[str, str]]) -> list[tuple[str, ObjectFailure]]:
        """Transform every object; the ones that failed, with why (in order)."""
        self.work.mkdir(parents=True, exist_ok=True)
        try:
            for number, (uri, relative) in enumerate(objects):
                if self.job.stop_requested.is_set():
                    raise _Stopped
                item = _Object(uri, relative, open(self.work / f"{number}.out", "wb"))  # noqa: SIM115 - closed when settled
                self._submit(item)
                self.window.append((item, None, None))
            while self.window:
                self._settle(*self.window.popleft())
        finally:
            for item, future, _ in self.window:
                item.output.close()
                if future is not None:
                    future.cancel()
            stop_replicas([self.replica])  # first: it ends the requests still running
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.http.close()
            shutil.rmtree(self.work, ignore_errors=True)
        return self.failures

    def _submit(self, item: _Object) -> None:
        try:
            records = split_records(self._read(item), self.split_type)
            inputs = records
            if self.processing is not None:  # the join needs the records as they were
                item.records, inputs = records, self.processing.model_inputs(records)
            for batch in batches(inputs, multi_record=self.settings.strategy == "MultiRecord",
                                 max_payload_mb=self.settings.max_payload_mb):
                while len(self.window) >= 2 * self.settings.concurrency:
                    self._settle(*self.window.popleft())
                if item.failure is not None:
                    return
                self.window.append((item, self.pool.submit(self._invoke, item, batch.body),
                                    batch))
        except RecordError as error:
            self._fail(item, ObjectFailure("ClientError", f"ClientError: {error}"))

    def _read(self, item: _Object) -> bytes:
        path = self.work / "input"
        try:
            self.job.kind.s3.download_object(item.uri, path)
        except AWSError as error:
            raise JobFailure(f'ClientError: Could not read the input "{item.uri}": '
                             f"{error.message}") from None
        data = path.read_bytes()
        path.unlink()
        if not self.gzip:
            return data
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise RecordError(f"CompressionType is Gzip but the object is not gzip data "
                              f"({error})") from None

    def _settle(self, item: _Object, future: Future[bytes] | None, batch: Batch | None) -> None:
        """The oldest request's answer into its object's output; an object's end marker
        (future None) uploads the output, unless the object failed."""
        if future is None or batch is None:
            item.output.close()
            if item.failure is None:
                self.job.kind.upload(Path(item.output.name),
                                     self.job.kind.output_uri(self.job.doc, item.relative),
                                     f"the output of {item.name}")
            Path(item.output.name).unlink(missing_ok=True)
            return
        if item.failure is not None:
            future.cancel()
            return
        try:
            answer = self._await(future)
            if self.processing is None:
                item.output.write(assemble(answer, self.by_line))
            else:
                item.output.write(self.processing.outputs(
                    batch.first + 1, item.records[batch.first:batch.first + batch.count],
                    answer))
        except ObjectFailure as failure:
            self._fail(item, failure)
        except RecordError as error:
            self._fail(item, ObjectFailure("ClientError", f"ClientError: {error}"))

    def _await(self, future: Future[bytes]) -> bytes:
        while True:
            if self.job.stop_requested.is_set():
                raise _Stopped
            try:
                return future.result(timeout=POLL_SECONDS)
            except TimeoutError:
                continue

    def _fail(self, item: _Object, failure: ObjectFailure) -> None:
        item.failure = failure
        self.failures.append((item.name, failure))
        self.job.data_log(f"{item.name}: {failure.status}")
        if failure.message:
            self.job.data_log(f"{item.name}: ")
            self.job.data_log(f"{item.name}: Message:")
            for line in failure.message.splitlines() or [""]:
                self.job.data_log(f"{item.name}: {line}")

    def _invoke(self, item: _Object, body: bytes) -> bytes:
        """POST one mini-batch, retrying what may pass on a second try."""
        problem = ObjectFailure("AlgorithmError", "Unable to get response from algorithm")
        for attempt in range(self.retries + 1):
            if self.job.stop_requested.is_set():
                raise _Stopped
            if attempt:
                time.sleep(min(0.1 * 2 ** attempt, 2.0))
            try:
                reply = self.http.post(f"{self.replica.url}/invocations", content=body,
                                       headers=self.headers)
            except httpx.TimeoutException:
                problem = ObjectFailure("ClientError", "Model server did not respond to "
                                        f"/invocations request within {self.timeout} seconds")
                continue
            except httpx.TransportError as error:
                self._check_server(item)
                problem = ObjectFailure("AlgorithmError", "Unable to get response from "
                                        f"algorithm ({type(error).__name__})")
                continue
            if reply.is_success:
                return reply.content
            message = reply.content.decode(errors="replace").strip()
            if reply.status_code < 500:
                raise ObjectFailure("ClientError", f"ClientError: {reply.status_code}", message)
            problem = ObjectFailure("AlgorithmError", "Bad HTTP status received from "
                                    f"algorithm: {reply.status_code}", message)
        raise problem

    def _check_server(self, item: _Object) -> None:
        """A server that has exited fails the whole job, not just this object."""
        note = self.replica.exit_note()
        if note and not self.job.stop_requested.is_set():
            raise JobFailure(
                f"AlgorithmError: the model server of transform job {self.job.name} stopped "
                f"while transforming {item.name}{note}. Last log lines:\n"
                + self.job.log.tail(LOG_TAIL_LINES))

