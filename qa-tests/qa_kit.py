"""What the QA suite measures and reads: the stage's gate, the held-out test split, and the
invocations it times and counts. Reaches AWS only through boto3 (local or real, by env)."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

CONFIG_DIR = Path(__file__).parent / "config"
JSON, CSV = "application/json", "text/csv"
COLUMNS = ("Survived", "Pclass", "Sex", "Age")
# One attempt per call: a retried failure would hide an error the gate must count.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"total_max_attempts": 1})


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
