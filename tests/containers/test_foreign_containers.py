"""Serving containers written to SageMaker's contract, not to this project's: registered from
their Dockerfiles, they train, serve through an endpoint (InvokeEndpoint) and score a batch
transform job unchanged.

- images/scikit_byo: AWS's scikit_bring_your_own layout (nginx + gunicorn + Flask, code copied
  to /opt/program, nginx from apt: the host must have it);
- images/flask_extra: a plain Flask server on 8080 whose requirements file names a package
  (humanize) the local AWS's own venv lacks.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
import uuid
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from sagepipe.clients import internal
from sagepipe.namespaces import isolation

IMAGES = Path(__file__).parent / "images"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
WAIT = {"Delay": 1, "MaxAttempts": 300}


def register(settings, name: str) -> tuple[str, list[str]]:
    uri = f"000000000000.dkr.ecr.us-east-1.amazonaws.com/{name.replace('_', '-')}:test"
    answer = internal(settings, "PUT", "images", {"uri": uri, "directory": str(IMAGES / name)},
                      timeout=900)
    return uri, answer["warnings"]


def csv_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


class Lifecycle:
    """Train, deploy, invoke, transform and delete, through boto3 like any client."""

    def __init__(self, aws, uri: str) -> None:
        self.sm, self.s3, self.runtime = aws("sagemaker"), aws("s3"), aws("sagemaker-runtime")
        self.uri = uri
        self.name = f"byo-{uuid.uuid4().hex[:8]}"
        self.bucket = self.name
        self.s3.create_bucket(Bucket=self.bucket)

    def train(self, rows) -> str:
        self.s3.put_object(Bucket=self.bucket, Key="train/data.csv", Body=csv_text(rows))
        self.sm.create_training_job(
            TrainingJobName=self.name, RoleArn=ROLE,
            AlgorithmSpecification={"TrainingImage": self.uri, "TrainingInputMode": "File"},
            InputDataConfig=[{"ChannelName": "training", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{self.bucket}/train/"}}}],
            OutputDataConfig={"S3OutputPath": f"s3://{self.bucket}/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1,
                            "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 600})
        self.sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=self.name, WaiterConfig=WAIT)
        job = self.sm.describe_training_job(TrainingJobName=self.name)
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        self.sm.create_model(ModelName=self.name, ExecutionRoleArn=ROLE, PrimaryContainer={
            "Image": self.uri, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]})
        return job["ModelArtifacts"]["S3ModelArtifacts"]

    def serve(self) -> None:
        self.sm.create_endpoint_config(EndpointConfigName=self.name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": self.name, "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1}])
        self.sm.create_endpoint(EndpointName=self.name, EndpointConfigName=self.name)
        self.sm.get_waiter("endpoint_in_service").wait(EndpointName=self.name,
                                                        WaiterConfig=WAIT)

    def invoke(self, rows) -> str:
        reply = self.runtime.invoke_endpoint(EndpointName=self.name, ContentType="text/csv",
                                             Body=csv_text(rows))
        return reply["Body"].read().decode()

    def transform(self, rows) -> str:
        self.s3.put_object(Bucket=self.bucket, Key="batch/input.csv", Body=csv_text(rows))
        self.sm.create_transform_job(
            TransformJobName=self.name, ModelName=self.name,
            TransformInput={"DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": f"s3://{self.bucket}/batch/"}},
                "ContentType": "text/csv", "SplitType": "Line"},
            TransformOutput={"S3OutputPath": f"s3://{self.bucket}/scored"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
        self.sm.get_waiter("transform_job_completed_or_stopped").wait(
            TransformJobName=self.name, WaiterConfig=WAIT)
        job = self.sm.describe_transform_job(TransformJobName=self.name)
        assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
        body = self.s3.get_object(Bucket=self.bucket, Key="scored/input.csv.out")["Body"]
        return body.read().decode()

    def delete(self) -> None:
        self.sm.delete_endpoint(EndpointName=self.name)


def endpoint_log(aws, endpoint: str) -> str:
    """What the endpoint's containers printed, from CloudWatch Logs."""
    logs = aws("logs")
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}")
    return "\n".join(e["message"] for page in pages for e in page["events"])


@pytest.mark.skipif(shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin") is None,
                    reason="nginx is not installed (apt-get install -y nginx; .ci/run installs "
                           "it when CI=true)")
def test_scikit_bring_your_own_container(aws, local_aws):
    uri, warnings = register(local_aws, "scikit_byo")
    assert any("FROM ubuntu:22.04: a directory image has no base image" in w for w in warnings)
    [apt] = [w for w in warnings if w.startswith("RUN apt-get install")]
    assert "host must provide their commands (wget, nginx)" in apt  # not python3-pip & co
    iris = load_iris()
    rows = [[int(label), *features] for label, features in zip(iris.target, iris.data,
                                                                 strict=True)]
    run = Lifecycle(aws, uri)
    run.train(rows)
    run.serve()
    try:
        sample = [r[1:] for r in rows[::10]]
        # An unpruned tree reproduces the labels of the rows it was fitted on.
        assert run.invoke(sample).split() == [str(r[0]) for r in rows[::10]]
        assert run.transform(sample).split() == [str(r[0]) for r in rows[::10]]
        log = endpoint_log(aws, run.name)
        assert "Starting the inference server with" in log
        assert '"POST /invocations HTTP/1.1" 200' in log  # nginx's access log, via /dev/stdout
    finally:
        run.delete()
    if isolation().overlay:  # what `serve` wrote outside /opt/ml stayed in its sandbox
        assert not Path("/var/log/nginx/access.log").is_symlink()
        assert not Path("/tmp/gunicorn.sock").exists()
        assert not Path("/opt/program").exists()


def test_flask_server_with_a_package_the_local_venv_lacks(aws, local_aws):
    assert importlib.util.find_spec("humanize") is None  # or this would prove nothing
    uri, warnings = register(local_aws, "flask_extra")
    assert warnings == []
    run = Lifecycle(aws, uri)
    run.train([[1000, 2], [3000, 4]])  # means: 2000, 3
    run.serve()
    try:
        assert run.invoke([[1, 1], [2, 1000]]) == "2,003\n7,000\n"  # humanize.intcomma
        assert run.transform([[1, 1], [2, 1000]]).split() == ["2,003", "7,000"]
    finally:
        run.delete()


def test_a_server_on_the_wrong_port_is_named_in_the_failure_reason(aws, local_aws, tmp_path):
    """SageMaker probes 8080: a server listening elsewhere fails with where it was probed and
    where it listens (here through a transform job, whose model server is checked the same
    way; its startup timeout is the shortest the API allows an endpoint: 60 s)."""
    image = tmp_path / "wrong-port"
    image.mkdir()
    (image / "Dockerfile").write_text('FROM python:3.11-slim\nCOPY serve /srv/\n'
                                      'ENV PATH="/srv:${PATH}"\n')
    (image / "serve").write_text("#!/usr/bin/env python3\nimport http.server\n"
                                 "print('listening on 5000', flush=True)\n"
                                 "http.server.HTTPServer(('0.0.0.0', 5000), "
                                 "http.server.BaseHTTPRequestHandler).serve_forever()\n")
    (image / "serve").chmod(0o755)
    uri = "000000000000.dkr.ecr.us-east-1.amazonaws.com/wrong-port:test"
    internal(local_aws, "PUT", "images", {"uri": uri, "directory": str(image)})
    sm = aws("sagemaker")
    name = f"wrong-port-{uuid.uuid4().hex[:8]}"
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": uri})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1, "ContainerStartupHealthCheckTimeoutInSeconds": 60}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    with pytest.raises(Exception, match="Failed"):
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=WAIT)
    reason = sm.describe_endpoint(EndpointName=name)["FailureReason"]
    assert "did not pass the ping health check within 60s: GET /ping on" in reason
    if isolation().network:
        assert "port 8080 inside the model server's own network namespace" in reason
        assert "its processes listen on 5000" in reason
    else:
        assert "the port SAGEMAKER_BIND_TO_PORT names" in reason
    assert "listening on 5000" in reason  # what the process printed
    sm.delete_endpoint(EndpointName=name)
