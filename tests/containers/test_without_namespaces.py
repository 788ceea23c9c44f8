"""Where the machine allows no namespaces (here forced with SAGEPIPE_ISOLATION=none on a local
AWS of its own): an image built from a Dockerfile still trains and serves, its paths mapped to
its layer on the host, the sandbox seen through the SM_* variables, and the model server on the
port SAGEMAKER_BIND_TO_PORT names."""

from __future__ import annotations

import uuid

import pytest
from testkit import free_port

from sagepipe.clients import client, internal
from sagepipe.config import Settings
from sagepipe.server import start_background, stop

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
WAIT = {"Delay": 1, "MaxAttempts": 120}
TRAIN = """#!/usr/bin/env python3
import os, pathlib
pathlib.Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("trained in " + os.getcwd())
"""
SERVE = """#!/usr/bin/env python3
import http.server, os, pathlib
model = pathlib.Path(os.environ["SM_MODEL_DIR"], "model.txt").read_text()
class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        body = model.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = answer
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.answer()
address = (os.environ["MODEL_SERVER_HOST"], int(os.environ["SAGEMAKER_BIND_TO_PORT"]))
http.server.HTTPServer(address, Handler).serve_forever()
"""


@pytest.fixture
def plain_aws(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEPIPE_ISOLATION", "none")
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    yield settings
    stop(settings)


def test_an_image_trains_and_serves_without_namespaces(plain_aws, tmp_path):
    image = tmp_path / "image"
    image.mkdir()
    (image / "Dockerfile").write_text("FROM python:3.11-slim\nWORKDIR /opt/program\n"
                                      "COPY train serve ./\nENV PATH=\"/opt/program:${PATH}\"\n")
    for name, text in (("train", TRAIN), ("serve", SERVE)):
        (image / name).write_text(text)
        (image / name).chmod(0o755)
    uri = "000000000000.dkr.ecr.us-east-1.amazonaws.com/plain:test"
    internal(plain_aws, "PUT", "images", {"uri": uri, "directory": str(image)})
    sm, s3 = client(plain_aws, "sagemaker"), client(plain_aws, "s3")
    name = f"plain-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": uri, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{name}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name,
                                                            WaiterConfig=WAIT)
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": uri, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=WAIT)
    answer = client(plain_aws, "sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=b"1")["Body"].read().decode()
    # WORKDIR /opt/program is the image's layer on the host: no mount namespace shows it there
    assert answer.startswith("trained in /") and answer.endswith("/upper/opt/program")
    sm.delete_endpoint(EndpointName=name)
