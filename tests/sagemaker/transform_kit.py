"""Helpers for the batch transform tests: a probe model server that reports what SageMaker's
batch contract gave it, requests, and waiting.

The probe (`serve`) answers /ping, and /execution-parameters with PROBE_EXECUTION_PARAMETERS
when its model's environment sets it. /invocations answers text/csv bodies with every line
upper-cased and JSON lines with `{"echo": <record>}` per line; a line starting with `bad`
gets a 400 naming it, a line starting with `hold` waits until the file `<PROBE_DIR>/release`
exists. The first PROBE_CONCURRENCY requests wait until that many are in flight together (a
500 after 60 s if they never are), so a job that sends fewer at once fails. Into PROBE_DIR it
writes its pid, its SAGEMAKER_* environment, the peak number of requests in flight and one
line per request (records, bytes).
"""

from __future__ import annotations

import contextlib
import csv
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import WaiterError
from jobs_kit import ROLE
from testkit import REPO, unique, write_image

from sagepipe.config import Settings
from sagepipe.images import ImageRegistry
from sagepipe.store import Store

PROBE_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/transform-probe:test"
XGBOOST_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/xgboost-transform:test"

PROBE_SERVE = r'''#!/usr/bin/env python3
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STATE = Path(os.environ["PROBE_DIR"])
STATE.mkdir(parents=True, exist_ok=True)
(STATE / "pid").write_text(str(os.getpid()))
(STATE / "env.json").write_text(json.dumps(
    {k: v for k, v in os.environ.items() if k.startswith("SAGEMAKER_")}))
WANT = int(os.environ.get("PROBE_CONCURRENCY", "1"))
TOGETHER = threading.Barrier(WANT)
LOCK = threading.Lock()
COUNTS = {"started": 0, "inflight": 0, "peak": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ping":
            return self.reply(200, b"")
        parameters = os.environ.get("PROBE_EXECUTION_PARAMETERS")
        if self.path == "/execution-parameters" and parameters:
            return self.reply(200, parameters.encode(), "application/json")
        self.reply(404, b"no such path")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with LOCK:
            number = COUNTS["started"]
            COUNTS["started"] += 1
            COUNTS["inflight"] += 1
            COUNTS["peak"] = max(COUNTS["peak"], COUNTS["inflight"])
            (STATE / "peak").write_text(str(COUNTS["peak"]))
        try:
            self.answer(number, body)
        finally:
            with LOCK:
                COUNTS["inflight"] -= 1

    def answer(self, number, body):
        lines = body.decode().splitlines()
        with LOCK, open(STATE / "requests.jsonl", "a") as log:
            log.write(json.dumps({"records": len(lines), "bytes": len(body)}) + "\n")
        if number < WANT:
            try:
                TOGETHER.wait(timeout=60)
            except threading.BrokenBarrierError:
                return self.reply(500, f"only some of {WANT} requests came together".encode())
        for index, line in enumerate(lines, 1):
            if line.startswith("bad"):
                return self.reply(400, f"line {index}: {line!r} is not a record I know".encode())
            if line.startswith("hold"):
                while not (STATE / "release").exists():
                    time.sleep(0.05)
        if self.headers.get("Content-Type", "").startswith("application/json"):
            answer = "".join(json.dumps({"echo": json.loads(line)}) + "\n" for line in lines)
            return self.reply(200, answer.encode(), "application/jsonlines")
        self.reply(200, "".join(line.upper() + "\n" for line in lines).encode(), "text/csv")

    def log_message(self, *args):
        pass


print("probe ready", flush=True)
address = (os.environ["MODEL_SERVER_HOST"], int(os.environ["SAGEMAKER_BIND_TO_PORT"]))
ThreadingHTTPServer(address, Handler).serve_forever()
'''


def register_probe_image(settings: Settings, root: Path) -> str:
    ImageRegistry(Store(settings.db_path)).register(write_image(root / "probe", PROBE_SERVE),
                                                    PROBE_IMAGE)
    return PROBE_IMAGE


def probe_model(sm: Any, probe_dir: Path, **env: str) -> str:
    """A model of the probe image reporting into `probe_dir` (no model data: it needs none)."""
    name = unique("probe")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": PROBE_IMAGE, "Environment": {"PROBE_DIR": str(probe_dir), **env}})
    return name


def transform_request(name: str, model: str, source: str, output: str, *,
                      data_type: str = "S3Prefix", content_type: str = "text/csv",
                      split: str = "Line", accept: str | None = None,
                      assemble: str = "Line", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"S3OutputPath": output, "AssembleWith": assemble}
    if accept:
        out["Accept"] = accept
    return {
        "TransformJobName": name, "ModelName": model,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": data_type,
                                                           "S3Uri": source}},
                           "ContentType": content_type, "SplitType": split},
        "TransformOutput": out,
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **extra,
    }


def run_transform(sm: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Create a transform job and wait for it with boto3's waiter; its final description
    (a job that ends Failed is returned too, for the test to read its reason)."""
    sm.create_transform_job(**request)
    name = request["TransformJobName"]
    waiter = sm.get_waiter("transform_job_completed_or_stopped")
    with contextlib.suppress(WaiterError):  # a Failed job: its description says why
        waiter.wait(TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
    return sm.describe_transform_job(TransformJobName=name)


def read_lines(s3: Any, uri: str) -> list[str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()


def wait_for_file(path: Path, bound: float = 120) -> str:
    """A file's text once it exists (a bounded wait, not a speed check)."""
    deadline = time.monotonic() + bound
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)
    return path.read_text()


def requests_seen(probe_dir: Path) -> list[dict[str, int]]:
    path = probe_dir / "requests.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def new_probe_dir(root: Path) -> Path:
    return root / f"probe-{uuid.uuid4().hex[:8]}"


def register_xgboost_image(settings: Settings) -> str:
    ImageRegistry(Store(settings.db_path)).register(REPO / "workflows" / "images" / "xgboost",
                                                    XGBOOST_IMAGE)
    return XGBOOST_IMAGE


def abalone_libsvm(test_share: float = 0.2) -> tuple[list[str], list[str]]:
    """The abalone rows as libsvm lines (rings first, then sex one-hot and the measurements),
    split train / test by a seeded shuffle."""
    with (REPO / "workflows" / "data" / "abalone.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    random.Random(0).shuffle(rows)
    measurements = [name for name in rows[0] if name not in ("sex", "rings")]
    lines = [" ".join([row["rings"], *(f"{i}:{float(row['sex'] == sex)}"
                                       for i, sex in enumerate("FIM")),
                       *(f"{i}:{row[name]}" for i, name in enumerate(measurements, 3))])
             for row in rows]
    cut = round(len(lines) * (1 - test_share))
    return lines[:cut], lines[cut:]
