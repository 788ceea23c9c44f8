"""Helpers for the batch transform tests: probe models (the stub model server answering
records, testkit.STUB_IMAGE with STUB_MODE=records) that report what SageMaker's batch contract
gave them into a folder of the test's, requests, and waiting."""

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
from testkit import REPO, STUB_IMAGE, register_image, unique

from sagepipe.config import Settings

XGBOOST_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/xgboost-transform:test"


def probe_model(sm: Any, probe_dir: Path, **env: str) -> str:
    """A model of the stub model server answering records and reporting into `probe_dir`, with
    more of its STUB_* settings in `env` (no model data: it needs none)."""
    name = unique("probe")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": STUB_IMAGE, "Environment": {"STUB_MODE": "records",
                                             "STUB_REPORT_DIR": str(probe_dir), **env}})
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
    return register_image(settings, REPO / "workflows" / "images" / "xgboost", XGBOOST_IMAGE)


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
