"""The `sagepipe` command and the AWS CLI, as a user runs them, against a real local AWS."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from testkit import REPO, STUB_IMAGE_DIR, free_port, register_image

from sagepipe.clients import local_env
from sagepipe.config import Settings
from sagepipe.gateway import LocalAWS
from sagepipe.internal import InternalService

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

BIN = Path(sys.executable).parent


def run(*args: str, env: dict[str, str] | None = None, check: bool = True):
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture
def home_cli(tmp_path):
    """`sagepipe --home H --port P ...` on a local AWS of its own."""
    base = [str(BIN / "sagepipe"), "--home", str(tmp_path / "home"), "--port", str(free_port())]
    yield lambda *args, check=True: run(*base, *args, check=check)
    run(*base, "down", check=False)


def test_up_prints_the_exports_and_down_stops_everything(home_cli, tmp_path):
    up = home_cli("up")
    exports = dict(line.removeprefix("export ").split("=", 1)
                   for line in up.stdout.splitlines() if line.startswith("export "))
    assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert "local AWS up" in up.stderr
    listed = run(str(BIN / "aws"), "s3api", "list-buckets", env=exports)
    assert json.loads(listed.stdout)["Buckets"] == []
    assert "stopped" in home_cli("down").stderr
    refused = home_cli("jobs", check=False)
    assert refused.returncode == 1 and "not running" in refused.stderr and "sagepipe up" in \
        refused.stderr


def test_images_jobs_endpoints_and_logs(home_cli):
    home_cli("up")
    registered = home_cli("image", "register", str(STUB_IMAGE_DIR), "--uri", "local/echo:1")
    assert "registered local/echo:1" in registered.stdout
    assert "local/echo:1" in home_cli("image", "list").stdout
    bad = home_cli("image", "register", str(REPO / "sagepipe"), "--uri", "local/x:1", check=False)
    assert bad.returncode == 1 and "neither a `train` nor a `serve`" in bad.stderr
    assert "Kind" in home_cli("jobs").stdout
    assert "Endpoint" in home_cli("endpoints").stdout
    missing = home_cli("logs", "no-such-job", check=False)
    assert missing.returncode == 1 and "no logs for 'no-such-job'" in missing.stderr
    assert home_cli("logs", "gateway").returncode == 0


def test_a_transform_job_by_the_aws_cli_shows_in_jobs_and_logs(home_cli, tmp_path):
    """The README's batch transform example, then `sagepipe jobs` and `sagepipe logs`; an
    endpoint of the same model in `sagepipe endpoints`."""
    exports = dict(line.removeprefix("export ").split("=", 1)
                   for line in home_cli("up").stdout.splitlines() if line.startswith("export "))
    home_cli("image", "register", str(STUB_IMAGE_DIR), "--uri", "local/echo:1")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("version.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"v1"))
    (tmp_path / "rows.csv").write_text("1,female,29\n3,male,40\n")
    aws = [str(BIN / "aws")]
    for command in (["s3", "mb", "s3://batch"],
                    ["s3", "cp", str(archive), "s3://batch/model/model.tar.gz"],
                    ["s3", "cp", str(tmp_path / "rows.csv"), "s3://batch/in/rows.csv"],
                    ["sagemaker", "create-model", "--model-name", "echo",
                     "--execution-role-arn", "arn:aws:iam::000000000000:role/x",
                     "--primary-container",
                     "Image=local/echo:1,ModelDataUrl=s3://batch/model/model.tar.gz"],
                    ["sagemaker", "create-transform-job", "--transform-job-name", "score",
                     "--model-name", "echo", "--transform-input",
                     '{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", '
                     '"S3Uri": "s3://batch/in/"}}, "ContentType": "text/csv", '
                     '"SplitType": "Line"}',
                     "--transform-output", "S3OutputPath=s3://batch/out,AssembleWith=Line",
                     "--transform-resources", "InstanceType=ml.m5.large,InstanceCount=1"],
                    ["sagemaker", "wait", "transform-job-completed-or-stopped",
                     "--transform-job-name", "score"]):
        run(*aws, *command, env=exports)
    scored = run(*aws, "s3", "cp", "s3://batch/out/rows.csv.out", "-", env=exports).stdout
    assert scored == "v1:1,female,29\n3,male,40\n"  # one request: the lines as they were
    listed = home_cli("jobs").stdout
    assert re.search(r"transform\s*│\s*score\s*│\s*Completed\s*│\s*\d{4}-\d\d-\d\d", listed)
    for command in (["sagemaker", "create-endpoint-config", "--endpoint-config-name", "echo-1",
                     "--production-variants", "VariantName=AllTraffic,ModelName=echo,"
                     "InitialInstanceCount=1,InstanceType=ml.m5.large"],
                    ["sagemaker", "create-endpoint", "--endpoint-name", "echo-ep",
                     "--endpoint-config-name", "echo-1"],
                    ["sagemaker", "wait", "endpoint-in-service", "--endpoint-name", "echo-ep"]):
        run(*aws, *command, env=exports)
    endpoints = home_cli("endpoints").stdout
    assert re.search(r"echo-ep\s*│\s*InService\s*│\s*\d{4}-\d\d-\d\d", endpoints), endpoints
    run(*aws, "sagemaker", "delete-endpoint", "--endpoint-name", "echo-ep", env=exports)
    assert "echo-ep" not in home_cli("endpoints").stdout
    logged = home_cli("logs", "score").stdout
    assert "[sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=6, " \
        "BatchStrategy=MULTI_RECORD" in logged


def test_the_aws_cli_drives_local_sagemaker_and_runtime(local_aws, aws, tmp_path):
    env = local_env(local_aws)  # what `eval "$(sagepipe env)"` exports
    register_image(local_aws, STUB_IMAGE_DIR, "local/echo:cli")
    s3 = aws("s3")
    s3.create_bucket(Bucket="cli-models")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("version.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"cli"))
    s3.put_object(Bucket="cli-models", Key="m.tar.gz", Body=archive.getvalue())
    sm = aws("sagemaker")
    sm.create_model(ModelName="cli-model", ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                    PrimaryContainer={"Image": "local/echo:cli",
                                      "ModelDataUrl": "s3://cli-models/m.tar.gz"})
    sm.create_endpoint_config(EndpointConfigName="cli-config", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "cli-model", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName="cli-endpoint", EndpointConfigName="cli-config")
    aws_cli = str(BIN / "aws")
    run(aws_cli, "sagemaker", "wait", "endpoint-in-service", "--endpoint-name", "cli-endpoint",
        env=env)
    out = tmp_path / "answer.txt"
    invoked = run(aws_cli, "sagemaker-runtime", "invoke-endpoint", "--endpoint-name",
                  "cli-endpoint", "--content-type", "text/csv", "--body", "1,2",
                  str(out), env=env)
    assert out.read_text() == "cli:1,2"
    assert json.loads(invoked.stdout)["InvokedProductionVariant"] == "AllTraffic"
    listed = json.loads(run(aws_cli, "sagemaker", "list-endpoints", env=env).stdout)
    assert "cli-endpoint" in [e["EndpointName"] for e in listed["Endpoints"]]
    jobs = json.loads(run(aws_cli, "sagemaker", "list-training-jobs", env=env).stdout)
    assert "TrainingJobSummaries" in jobs
    failed = run(aws_cli, "sagemaker", "describe-training-job", "--training-job-name", "nope",
                 env=env, check=False)
    assert failed.returncode != 0 and "(ValidationException)" in failed.stderr
    assert "Requested resource not found." in failed.stderr
    sm.delete_endpoint(EndpointName="cli-endpoint")


@pytest.mark.parametrize("service, call", [
    ("rds", lambda c: c.describe_db_instances()),  # query protocol (XML errors)
    ("dynamodb", lambda c: c.list_tables()),  # JSON protocol
    ("eks", lambda c: c.list_clusters()),  # REST-JSON protocol
])
def test_services_not_emulated_answer_a_readable_error(aws, service, call):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        call(aws(service))
    error = caught.value.response["Error"]
    assert error["Code"] == "NotImplemented"
    assert f"does not emulate the {service} service" in error["Message"]


def test_the_not_emulated_answer_names_every_service_served(aws, tmp_path):
    """The list comes from the service table: a service registered is a service named."""
    from botocore.exceptions import ClientError

    local = LocalAWS(Settings(tmp_path / "home"))  # not served: its table is what is read
    try:
        labels = [s.label for s in local.services.services
                  if not isinstance(s, InternalService)]
    finally:
        local.awslambda.shutdown()
    with pytest.raises(ClientError) as caught:
        aws("sqs").list_queues()
    served = caught.value.response["Error"]["Message"].split("(it serves ")[1].split(")")[0]
    assert served == ", ".join(labels[:-1]) + f" and {labels[-1]}"
    assert {"S3", "SageMaker", "Lambda", "Step Functions", "CloudWatch Logs"} <= set(labels)


def test_up_takes_its_own_port_and_home_and_later_commands_find_it(tmp_path):
    home, port = tmp_path / "own-home", free_port()
    cli = [str(BIN / "sagepipe"), "--home", str(home)]
    try:
        up = run(str(BIN / "sagepipe"), "up", "--port", str(port), "--home", str(home))
        assert f"http://127.0.0.1:{port}" in up.stdout
        status = run(*cli, "status")  # no --port: the running local AWS's port is recorded
        assert f"running at http://127.0.0.1:{port}" in status.stdout
    finally:
        run(*cli, "down", check=False)
