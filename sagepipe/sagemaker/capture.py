"""Data capture: sampled requests and responses written to S3 as SageMaker's JSON lines.

Objects land where SageMaker puts them,
`<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl`, one line per
invocation (`captureData.endpointInput/endpointOutput`, `eventMetadata`, `eventVersion`).
SageMaker flushes every few minutes; locally buffers are flushed every FLUSH_SECONDS and when
the gateway stops.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import random
import tempfile
import threading
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from sagepipe.errors import AWSError
from sagepipe.s3.object_store import ObjectStore

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0
DEFAULT_TYPES = {"CSV": ["text/csv"], "JSON": ["application/json"]}


def _payload(body: bytes, content_type: str | None, mode: str,
             headers: dict[str, Any]) -> dict[str, Any]:
    """One side of a captured event, encoded as CaptureContentTypeHeader says."""
    media = (content_type or "").split(";")[0].strip().lower()
    encoding = "BASE64"
    for kind in ("CSV", "JSON"):
        if media in headers.get(f"{kind.title()}ContentTypes", DEFAULT_TYPES[kind]):
            encoding = kind
    try:
        data = body.decode() if encoding != "BASE64" else None
    except UnicodeDecodeError:
        data, encoding = None, "BASE64"
    if data is None:
        data = base64.b64encode(body).decode()
    return {"observedContentType": content_type or "", "mode": mode, "data": data,
            "encoding": encoding}


class CaptureWriter:
    """Buffers captured events per S3 prefix and uploads them as .jsonl objects."""

    def __init__(self, s3: ObjectStore) -> None:
        self.s3 = s3
        self._buffers: dict[str, list[bytes]] = defaultdict(list)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
        self._thread.start()

    def record(self, config: dict[str, Any], endpoint: str, variant: str, *,
               request: bytes, request_type: str | None, response: bytes,
               response_type: str | None, inference_id: str | None) -> None:
        """Buffer one invocation if sampling picks it (cheap: called on the request path)."""
        if random.uniform(0, 100) >= config["InitialSamplingPercentage"]:  # noqa: S311
            return
        modes = {option["CaptureMode"] for option in config["CaptureOptions"]}
        headers = config.get("CaptureContentTypeHeader", {})
        data: dict[str, Any] = {}
        if "Input" in modes:
            data["endpointInput"] = _payload(request, request_type, "INPUT", headers)
        if "Output" in modes:
            data["endpointOutput"] = _payload(response, response_type, "OUTPUT", headers)
        now = dt.datetime.now(dt.UTC)
        metadata = {"eventId": str(uuid.uuid4()),
                    "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
        if inference_id:
            metadata["inferenceId"] = inference_id
        line = orjson.dumps({"captureData": data, "eventMetadata": metadata, "eventVersion": "0"})
        prefix = (f"{config['DestinationS3Uri'].rstrip('/')}/{endpoint}/{variant}/"
                  f"{now:%Y/%m/%d/%H}/")
        with self._lock:
            self._buffers[prefix].append(line)

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            buffers, self._buffers = self._buffers, defaultdict(list)
        for prefix, lines in buffers.items():
            now = dt.datetime.now(dt.UTC)
            uri = f"{prefix}{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "capture.jsonl"
                path.write_bytes(b"\n".join(lines) + b"\n")
                try:
                    self.s3.upload(path, uri)
                except AWSError as err:
                    log.warning("data capture: %d events not written to %s: %s", len(lines),
                                uri, err.message)

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
