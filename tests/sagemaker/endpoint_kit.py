"""Helpers for the endpoint tests: models of the stub model server (testkit.STUB_IMAGE; a model
whose version is `crash` never starts) with their archives in local S3, and model -> config ->
endpoint set-ups."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from jobs_kit import process_alive
from testkit import STUB_IMAGE, unique

BUCKET = "endpoint-models"


def model_archive(version: str) -> bytes:
    """A model.tar.gz with version.txt at the archive root, as a training job packs it."""
    data = version.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("version.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Deployer:
    """Creates models, endpoint configs and endpoints on one local AWS through boto3."""

    def __init__(self, sm, s3) -> None:  # boto3 clients
        self.sm = sm
        self.s3 = s3
        if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=BUCKET)

    def model(self, version: str, env: dict | None = None) -> str:
        """A model of the stub model server serving `version` (`crash`: it never starts)."""
        name = unique(f"model-{version}")
        key = f"{name}/model.tar.gz"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=model_archive(version))
        self.sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/x",
                             PrimaryContainer={"Image": STUB_IMAGE, "ModelDataUrl":
                                               f"s3://{BUCKET}/{key}", "Environment": env or {}})
        return name

    def config(self, *variants: tuple[str, str, float], **extra) -> str:
        """An endpoint config from (variant name, model name, weight) triples."""
        name = unique("config")
        self.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
            {"VariantName": variant, "ModelName": model, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": weight}
            for variant, model, weight in variants], **extra)
        return name

    def endpoint(self, config: str, wait: bool = True) -> str:
        name = unique("endpoint")
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
        if wait:
            self.wait(name)
        return name

    def wait(self, endpoint: str) -> dict:
        self.sm.get_waiter("endpoint_in_service").wait(
            EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        return self.sm.describe_endpoint(EndpointName=endpoint)

    def delete(self, endpoint: str) -> None:
        self.sm.delete_endpoint(EndpointName=endpoint)
        self.sm.get_waiter("endpoint_deleted").wait(
            EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def wait_for_pid(pidfile: Path, bound: float = 60) -> int:
    """The pid a server wrote to `pidfile` once it started (a bounded wait)."""
    deadline = time.monotonic() + bound
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return int(pidfile.read_text())


def wait_until_gone(pid: int, bound: float = 60) -> bool:
    """Whether the process has ended within `bound` seconds (a bounded wait, not a speed check)."""
    deadline = time.monotonic() + bound
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not process_alive(pid)
