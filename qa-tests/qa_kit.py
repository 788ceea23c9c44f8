"""What the QA suite measures and reads: the stage's gate, the held-out test split, and the
invocations it times and counts. Reaches AWS only through boto3 (local or real, by env)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

CONFIG_DIR = Path(__file__).parent / "config"
JSON, CSV = "application/json", "text/csv"
COLUMNS = ("Survived", "Pclass", "Sex", "Age")
# One attempt per call: a retried failure would hide an error the gate must count.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"total_max_attempts": 1})
# https://<api id>.execute-api.<region>.amazonaws.com/...: the region the API is signed for.
EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class QaSetupError(Exception):
    """The suite cannot run as asked (bad option, config or test data); the message says why."""


@dataclass(frozen=True)
class Gate:
    """A stage's bar: accuracy floor, p95 latency budget, and invocations to time."""

    stage: str
    accuracy_floor: float
    latency_p95_ms: float
    invocations: int

    @classmethod
    def load(cls, stage: str, path: Path | None = None) -> Gate:
        path = path or CONFIG_DIR / f"{stage}.json"
        try:
            raw = json.loads(path.read_text())
            gate = cls(stage, float(raw["accuracy_floor"]), float(raw["latency_p95_ms"]),
                       int(raw["invocations"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise QaSetupError(f"stage config {path} is unusable ({exc!r}); it needs "
                               "accuracy_floor, latency_p95_ms and invocations") from None
        if not (0 < gate.accuracy_floor <= 1 and gate.latency_p95_ms > 0
                and gate.invocations >= 20):
            raise QaSetupError(f"stage config {path}: accuracy_floor must be in (0, 1], "
                               "latency_p95_ms > 0 and invocations >= 20 (for a p95)")
        return gate


@dataclass(frozen=True)
class Passenger:
    survived: int
    pclass: int
    sex: str
    age: float | None

    def instance(self) -> dict[str, Any]:
        return {"Pclass": self.pclass, "Sex": self.sex, "Age": self.age}


def _csv_texts(spec: str) -> list[tuple[str, str]]:
    """(name, text) of each CSV file `spec` names: s3://bucket/prefix/, a file or a folder."""
    if spec.startswith("s3://"):
        bucket, _, prefix = spec[5:].partition("/")
        s3 = boto3.client("s3", config=CLIENT_CONFIG)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])
                if o["Key"].endswith(".csv")]
        return [(f"s3://{bucket}/{key}",
                 s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()) for key in keys]
    path = Path(spec)
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    return [(str(file), file.read_text()) for file in files if file.is_file()]


def load_test_split(spec: str) -> list[Passenger]:
    """The labelled rows (Survived,Pclass,Sex,Age; Age may be empty) of the test split."""
    rows = []
    for name, text in _csv_texts(spec):
        reader = csv.DictReader(io.StringIO(text))
        if set(COLUMNS) - set(reader.fieldnames or ()):
            raise QaSetupError(f"{name} must have the columns {','.join(COLUMNS)}, "
                               f"has {reader.fieldnames}")
        for row in reader:
            try:
                rows.append(Passenger(int(row["Survived"]), int(row["Pclass"]), row["Sex"],
                                      float(row["Age"]) if row["Age"].strip() else None))
            except ValueError as exc:
                raise QaSetupError(f"{name} line {reader.line_num}: {exc}") from None
    if not rows:
        raise QaSetupError(f"no labelled rows found in {spec} (expected CSV files with a "
                           f"{','.join(COLUMNS)} header)")
    return rows


@dataclass
class Metrics:
    """Timed invocations of the gate (accuracy and latency runs) and what they measured."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    accuracy: float | None = None

    def invoke(self, runtime: Any, endpoint: str, instances: list[dict[str, Any]]) -> Any:
        """InvokeEndpoint with JSON instances, timed; a failure is counted and re-raised."""
        body = json.dumps({"instances": instances})
        start = time.perf_counter()
        try:
            reply = runtime.invoke_endpoint(EndpointName=endpoint, ContentType=JSON,
                                            Accept=JSON, Body=body)
            answer = json.loads(reply["Body"].read())
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.latencies_ms.append((time.perf_counter() - start) * 1000)
        return answer

    def p95_ms(self) -> float | None:
        """Nearest-rank 95th percentile of the invocation latencies."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[math.ceil(0.95 * len(ordered)) - 1]


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: Any  # the JSON answer, or the raw text when it is not JSON


def call_api(url: str, method: str = "GET", body: Any = None, sign: bool = True) -> ApiAnswer:
    """One call to the prediction API (IAM auth): SigV4-signed for `execute-api` with the
    credentials of boto3's usual chain (environment, profile, container or instance role), as
    API Gateway checks them; `sign=False` sends it as an anonymous caller would."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": JSON} if data is not None else {}
    if sign:
        session = boto3.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise QaSetupError("no AWS credentials found to sign the API call with")
        host = EXECUTE_API_HOST.match(urlsplit(url).hostname or "")
        region = host.group(1) if host else session.region_name or "us-east-1"
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        headers = dict(request.headers.items())
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers,
                                                           method=method), timeout=60) as reply:
            status, raw = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return ApiAnswer(status, json.loads(raw))
    except ValueError:
        return ApiAnswer(status, raw.decode(errors="replace"))
