"""Lambda: a CSV file dropped in the input bucket, scored by the SageMaker endpoint, written to
the output bucket. Handler `scoring.handler`; S3 invokes it asynchronously with ObjectCreated
events (a failed event is retried twice, then goes to the on-failure destination).

For each object of the event, `<OUTPUT_PREFIX><input key>` in OUTPUT_BUCKET gets the input's
columns plus predicted_survived and survival_probability, with a header line; rows the model
refuses go, with their line and reason, to `<OUTPUT_PREFIX><input key>.errors.csv` next to it
(and a stale report of an earlier version of the file is deleted). The predictions object is
written last and carries the input's ETag, version and event sequencer as metadata (so does a
hand-off's marker): a redelivered event finds it and does nothing, an event older than the one
it was made from is skipped. An object larger than TRANSFORM_THRESHOLD_BYTES, or one the run
has no time left to finish, goes to a batch transform job instead (handoff.py).

A problem of the file (not CSV, no model columns in its header) is the file's error report,
not a failure: retrying would not change it. A problem of the service (the endpoint missing or
failing, S3 refusing) fails the invocation with the reason in the log, so that Lambda retries it
and then hands the event to the dead-letter destination.

Settings (environment): ENDPOINT_NAME, OUTPUT_BUCKET, OUTPUT_PREFIX, ROWS_PER_REQUEST,
MAX_REQUEST_BYTES, CONCURRENT_REQUESTS, TRANSFORM_THRESHOLD_BYTES, TRANSFORM_JOB_PREFIX,
TRANSFORM_INSTANCE_TYPE, TIME_RESERVE_SECONDS.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import IO, Any
from urllib.parse import unquote_plus

import boto3
from batches import INVOKE_ENDPOINT_LIMIT, Invoke, Rejected, Scored, batches, score
from botocore.config import Config
from botocore.exceptions import ClientError
from csv_rows import FileRejected, Layout, Row, open_rows
from handoff import Source, hand_off

log = logging.getLogger("batch_inference")
log.setLevel(logging.INFO)

READ_CHUNK = 1024 * 1024


class EndpointUnavailable(RuntimeError):
    """The endpoint cannot score now (missing, not in service, failing): retry the event."""


class OutOfTime(Exception):
    """The run cannot finish the file before the function's timeout."""


@dataclass(frozen=True)
class Settings:
    endpoint: str
    output_bucket: str
    output_prefix: str = "predictions/"
    rows_per_request: int = 1000
    max_request_bytes: int = 5 * 1024 * 1024
    concurrent_requests: int = 4
    transform_threshold_bytes: int = 50 * 1024 * 1024
    transform_job_prefix: str = "batch-inference"
    transform_instance_type: str = "ml.m5.large"
    time_reserve_seconds: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The settings the function's environment gives; missing ones are a clear error."""
        missing = [name for name in ("ENDPOINT_NAME", "OUTPUT_BUCKET") if not env.get(name)]
        if missing:
            raise RuntimeError(f"the function's environment lacks {', '.join(missing)}")
        defaults = cls("", "")
        given = {name: env[name.upper()] for name in cls.__dataclass_fields__
                 if env.get(name.upper())}
        typed = {name: type(getattr(defaults, name))(value) for name, value in given.items()
                 if name not in ("endpoint", "output_bucket")}
        settings = cls(env["ENDPOINT_NAME"], env["OUTPUT_BUCKET"], **typed)
        if not 0 < settings.max_request_bytes <= INVOKE_ENDPOINT_LIMIT:
            raise RuntimeError(f"MAX_REQUEST_BYTES must be 1..{INVOKE_ENDPOINT_LIMIT} "
                               "(InvokeEndpoint's limit)")
        return settings


@cache
def clients(concurrent_requests: int) -> tuple[Any, Any, Any]:
    """S3, SageMaker and SageMaker Runtime clients, made once per sandbox."""
    runtime = boto3.client("sagemaker-runtime", config=Config(
        max_pool_connections=max(10, concurrent_requests), read_timeout=70,
        retries={"mode": "standard", "max_attempts": 3}))
    return boto3.client("s3"), boto3.client("sagemaker"), runtime


def sources(event: Mapping[str, Any]) -> Iterator[Source]:
    """The objects of an S3 event's ObjectCreated records (anything else is logged, skipped)."""
    records = event.get("Records")
    if not isinstance(records, list):
        log.warning("not an S3 event (no Records): %s", str(event)[:300])
        return
    for record in records:
        name = record.get("eventName", "")
        if record.get("eventSource") != "aws:s3" or not name.startswith("ObjectCreated"):
            log.warning("skipped a record that is not an S3 ObjectCreated event: %s %s",
                        record.get("eventSource"), name)
            continue
        obj = record["s3"]["object"]
        yield Source(record["s3"]["bucket"]["name"], unquote_plus(obj["key"]),
                     obj.get("eTag", ""), obj.get("versionId"), int(obj.get("size", 0)),
                     obj.get("sequencer", ""))


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    return {"objects": [process(source, settings, context) for source in sources(event)]}


def process(source: Source, settings: Settings, context: Any) -> dict[str, Any]:
    s3, sagemaker, runtime = clients(settings.concurrent_requests)
    output_key = settings.output_prefix + source.key
    # What an earlier delivery made: the predictions, a hand-off's marker, or the error report
    # of a file rejected as a whole.
    for made in (output_key, output_key + ".transform.json", output_key + ".errors.csv"):
        done = previous_output(s3, settings.output_bucket, made, source)
        if done is not None:
            log.info("%s: %s", source.uri, done)
            return {"input": source.uri, "status": "unchanged", "why": done}
    try:
        if source.size > settings.transform_threshold_bytes:
            return hand_off(s3, sagemaker, source, endpoint=settings.endpoint,
                            output_bucket=settings.output_bucket, output_key=output_key,
                            job_prefix=settings.transform_job_prefix,
                            instance_type=settings.transform_instance_type,
                            reason=f"{source.size} bytes, above the function's limit of "
                                   f"{settings.transform_threshold_bytes}")
        try:
            return score_file(s3, invoker(runtime, settings.endpoint), source, settings,
                              output_key, context)
        except OutOfTime as out:
            return hand_off(s3, sagemaker, source, endpoint=settings.endpoint,
                            output_bucket=settings.output_bucket, output_key=output_key,
                            job_prefix=settings.transform_job_prefix,
                            instance_type=settings.transform_instance_type, reason=str(out))
    except FileRejected as rejected:
        log.warning("%s: the file cannot be scored: %s", source.uri, rejected)
        report = Report()
        report.writer.writerows([["error"], [str(rejected)]])
        put(s3, settings.output_bucket, output_key + ".errors.csv", report.finish(), source,
            whole_file=True)
        s3.delete_object(Bucket=settings.output_bucket, Key=output_key)  # an earlier version's
        return {"input": source.uri, "status": "rejected", "error": str(rejected),
                "errors": f"s3://{settings.output_bucket}/{output_key}.errors.csv"}
    except EndpointUnavailable as error:
        log.error("%s: not scored, the endpoint cannot answer: %s. The event fails: Lambda "
                  "retries it, then sends it to the function's on-failure destination.",
                  source.uri, str(error).rstrip("."))
        raise
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "NoSuchVersion",
                                               "PreconditionFailed"):
            log.warning("%s: version %s (ETag %s) is no longer there (%s): a later event "
                        "covers what replaced it", source.uri, source.version_id, source.etag,
                        error.response["Error"]["Code"])
            return {"input": source.uri, "status": "gone"}
        raise


def previous_output(s3: Any, bucket: str, key: str, source: Source) -> str | None:
    """Why an existing output makes this event's work unneeded, or None."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    made_from = head.get("Metadata", {})
    if key.endswith(".errors.csv") and made_from.get("whole-file") != "rejected":
        return None  # a report of some rows: the predictions, written after it, say if done
    if made_from.get("source-etag") == source.etag and \
            made_from.get("source-version-id") == (source.version_id or "null"):
        return f"s3://{bucket}/{key} was already made from this version (ETag {source.etag})"
    if newer(made_from.get("source-sequencer", ""), source.sequencer):
        return (f"s3://{bucket}/{key} was made from a later write of the object (sequencer "
                f"{made_from['source-sequencer']} > {source.sequencer})")
    return None


def newer(sequencer: str, than: str) -> bool:
    """S3's rule for two events of one key: the longer sequencer is left-padded with zeros,
    then the greater string is the later event."""
    if not sequencer or not than:
        return False
    width = max(len(sequencer), len(than))
    return sequencer.rjust(width, "0") > than.rjust(width, "0")


def invoker(runtime: Any, endpoint: str) -> Invoke:
    """InvokeEndpoint as batches.score calls it: the model's 4xx is Rejected, anything else
    that stops scoring is EndpointUnavailable with the reason."""
    def invoke(body: bytes) -> bytes:
        try:
            answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=body,
                                             ContentType="text/csv", Accept="text/csv")
        except ClientError as error:
            status = error.response.get("OriginalStatusCode")
            message = error.response.get("OriginalMessage") or \
                error.response["Error"].get("Message", "")
            if error.response["Error"]["Code"] == "ModelError" and \
                    isinstance(status, int) and 400 <= status < 500:
                raise Rejected(message) from None
            raise EndpointUnavailable(f"endpoint {endpoint}: "
                                      f"{error.response['Error']['Code']}: {message}") from None
        return answer["Body"].read()
    return invoke


@dataclass
class Progress:
    """How far a run is, to tell whether it can finish before the function's timeout."""

    size: int
    context: Any
    reserve_seconds: float
    started: float = field(default_factory=time.monotonic)
    bytes_read: int = 0
    rows_read: int = 0
    rows_done: int = 0

    def counted(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes_read += len(chunk)
            yield chunk

    def check(self) -> None:
        """OutOfTime when the rows left, at the pace so far, need more than the time left."""
        left = self.context.get_remaining_time_in_millis() / 1000 - self.reserve_seconds
        if self.rows_done and self.rows_read:
            rows_in_file = self.size * self.rows_read / max(self.bytes_read, 1)
            pace = self.rows_done / max(time.monotonic() - self.started, 1e-6)
            needed = max(rows_in_file - self.rows_done, 0) / pace
        else:
            needed = 0.0
        if left < needed or left <= 0:
            raise OutOfTime(f"{self.rows_done} rows scored in "
                            f"{time.monotonic() - self.started:.0f} s; the rest needs about "
                            f"{needed:.0f} s and the run has {max(left, 0):.0f} s left")


def scored_batches(rows: Iterator[Row], layout: Layout, invoke: Invoke, settings: Settings,
                   progress: Progress) -> Iterator[Scored]:
    """Each batch scored, in file order, with up to CONCURRENT_REQUESTS batches in flight."""
    def counted_rows() -> Iterator[Row]:
        for row in rows:
            progress.rows_read += 1
            yield row

    pool = ThreadPoolExecutor(settings.concurrent_requests)
    window: deque[Future[Scored]] = deque()
    try:
        for batch in batches(counted_rows(), layout, settings.rows_per_request,
                             settings.max_request_bytes):
            progress.check()
            window.append(pool.submit(score, batch, invoke))
            if len(window) >= settings.concurrent_requests:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class Report:
    """A CSV file written to a temporary file (the function's /tmp), then uploaded."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed after upload
        self.text = io.TextIOWrapper(self.file, encoding="utf-8", newline="")
        self.writer = csv.writer(self.text, lineterminator="\n")
        self.rows = 0

    def finish(self) -> IO[bytes]:
        self.text.flush()
        self.text.detach()
        self.file.seek(0)
        return self.file


def put(s3: Any, bucket: str, key: str, body: IO[bytes], source: Source,
        whole_file: bool = False) -> None:
    """Upload a CSV output with what it was made from (`whole_file`: an error report that
    stands for the whole file, which has no predictions)."""
    made_from = {**source.identity(), **({"whole-file": "rejected"} if whole_file else {})}
    with body:
        s3.upload_fileobj(body, bucket, key, ExtraArgs={"ContentType": "text/csv",
                                                       "Metadata": made_from})


def score_file(s3: Any, invoke: Invoke, source: Source, settings: Settings, output_key: str,
               context: Any) -> dict[str, Any]:
    started = time.monotonic()
    read = s3.get_object(Bucket=source.bucket, Key=source.key, IfMatch=source.etag,
                         **({"VersionId": source.version_id} if source.version_id else {}))
    progress = Progress(source.size, context, settings.time_reserve_seconds)
    layout, rows = open_rows(progress.counted(read["Body"].iter_chunks(READ_CHUNK)))
    output, errors = Report(), Report()
    output.writer.writerow(layout.output_header())
    errors.writer.writerow(layout.error_header())
    requests = sent = 0
    for scored in scored_batches(rows, layout, invoke, settings, progress):
        requests, sent = requests + scored.requests, sent + scored.rows_sent
        for outcome in scored.outcomes:
            if outcome.prediction is not None:
                output.writer.writerow([*outcome.row.cells, *outcome.prediction])
                output.rows += 1
            else:
                errors.writer.writerow([outcome.row.line, outcome.error, *outcome.row.cells])
                errors.rows += 1
        progress.rows_done += len(scored.outcomes)
    errors_key = output_key + ".errors.csv"
    if errors.rows:
        put(s3, settings.output_bucket, errors_key, errors.finish(), source)
    else:
        errors.finish().close()
        s3.delete_object(Bucket=settings.output_bucket, Key=errors_key)  # an earlier version's
    put(s3, settings.output_bucket, output_key, output.finish(), source)
    summary = {"input": source.uri, "status": "scored", "rows": output.rows + errors.rows,
               "predicted": output.rows, "refused": errors.rows, "requests": requests,
               "rows_sent": sent, "seconds": round(time.monotonic() - started, 3),
               "output": f"s3://{settings.output_bucket}/{output_key}"}
    if errors.rows:
        summary["errors"] = f"s3://{settings.output_bucket}/{errors_key}"
    log.info("%s: %d rows: %d predicted, %d refused (%s); %d InvokeEndpoint requests in "
             "%.2f s -> %s", source.uri, summary["rows"], output.rows, errors.rows,
             summary.get("errors", "no error report"), requests, summary["seconds"],
             summary["output"])
    return summary
