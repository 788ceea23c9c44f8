"""Test images and helpers for the endpoint tests: a tiny model server honouring the SageMaker
hosting contract, model archives in local S3, and model -> config -> endpoint set-ups."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from jobs_kit import process_alive
from testkit import unique, write_image

from sagepipe.config import Settings
from sagepipe.images import ImageRegistry
from sagepipe.store import Store

ECHO_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/endpoint-echo:test"
CRASH_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/endpoint-crash:test"
BUCKET = "endpoint-models"

# /ping answers 200 once the model is loaded (and, if the model's env names a GATE file, once
# that file exists); the server writes its pid to the file PIDFILE names, if any. /invocations
# echoes what it got with the model version read from /opt/ml/model, its pid and the model's
# env, so tests can see which fleet answered. A body `fail...` gets a 400, a body
# `sleep=<seconds>` a slow answer, a body `hold=<path>` creates `<path>.started` and answers
# once `<path>` exists (a call kept in flight as long as a test wants).
ECHO_SERVE = r'''#!/usr/bin/env python3
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VERSION = Path("/opt/ml/model/version.txt").read_text().strip()
GATE = os.environ.get("GATE")
if "PIDFILE" in os.environ:
    Path(os.environ["PIDFILE"] + ".tmp").write_text(str(os.getpid()))
    os.replace(os.environ["PIDFILE"] + ".tmp", os.environ["PIDFILE"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body, content_type="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/ping":
            return self.reply(404, b"no such path")
        ready = GATE is None or Path(GATE).exists()
        self.reply(200 if ready else 503, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if body.startswith(b"fail"):
            return self.reply(400, b"row 1, column Sex: 'x' is not male or female")
        if body.startswith(b"sleep="):  # a slow model: keeps invocations in flight
            time.sleep(float(body.split(b"=")[1]))
        if body.startswith(b"hold="):
            held = Path(body.split(b"=", 1)[1].decode())
            Path(f"{held}.started").touch()
            deadline = time.monotonic() + 120
            while not held.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        accept = self.headers.get("Accept", "")
        seen = {"version": VERSION, "pid": os.getpid(), "body": body.decode(),
                "content_type": self.headers.get("Content-Type", ""), "accept": accept,
                "workers": os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS"),
                "greeting": os.environ.get("GREETING")}
        attributes = self.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        headers = []
        if attributes:
            headers.append(("X-Amzn-SageMaker-Custom-Attributes", "seen=" + attributes))
        if accept == "text/csv":
            self.reply(200, f"{VERSION},{seen['body']}".encode(), "text/csv", headers)
        else:
            self.reply(200, json.dumps(seen).encode(), "application/json", headers)

    def log_message(self, *args):
        pass


print(f"loaded model {VERSION}", flush=True)
address = (os.environ["MODEL_SERVER_HOST"], int(os.environ["SAGEMAKER_BIND_TO_PORT"]))
ThreadingHTTPServer(address, Handler).serve_forever()
'''

CRASH_SERVE = """#!/usr/bin/env python3
import sys
print("loading model: cannot unpickle /opt/ml/model/model.pkl", flush=True)
sys.exit(3)
"""


def register_test_images(settings: Settings, root: Path) -> None:
    registry = ImageRegistry(Store(settings.db_path))
    registry.register(write_image(root / "echo", ECHO_SERVE), ECHO_IMAGE)
    registry.register(write_image(root / "crash", CRASH_SERVE), CRASH_IMAGE)


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

    def model(self, version: str, image: str = ECHO_IMAGE, env: dict | None = None) -> str:
        name = unique(f"model-{version}")
        key = f"{name}/model.tar.gz"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=model_archive(version))
        self.sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/x",
                             PrimaryContainer={"Image": image, "ModelDataUrl":
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
