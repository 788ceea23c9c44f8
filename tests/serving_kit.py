"""What the serving tests share (tests/apigateway, tests/chalice_api, tests/qa, tests/fuzz): the
example model trained by real SageMaker jobs on the local AWS as the pipeline trains it (its
training workflow's stack, run by its training script), endpoints through boto3, the chalice API
packaged as the PackageApi build packages it, and the stub model server (testkit.STUB_IMAGE) for
the ways an endpoint fails: its STUB_MODE `error` answers 500, `garbage` an answer that is not
the model's, `slow` answers after STUB_SLEEP seconds, `crash` never starts; with STUB_GATE set,
/ping answers 503 while that file is missing.

The session fixtures at the end (`images`, `training`, `model_endpoint`: the model trained once
and one endpoint serving it) are loaded by the test modules that use them with
`pytest_plugins = ["serving_kit"]`: a plugin, so they are built once per session (per worker)
for all those folders, and the root conftest keeps those modules on one worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from testkit import (
    BIN,
    MODEL_IMAGE_URI,
    REPO,
    TEST_DATA,
    chalice_package,
    register_stub_image,
    unique,
)

from sagepipe.clients import client, local_env
from sagepipe.config import Settings

TRAINER = REPO / "CodePipeline" / "scripts" / "run_training.py"
TRAINING_TEMPLATE = REPO / "workflows" / "templates" / "titanic_train.yaml"
TRAINING_STACK = "serving-training"
BUCKET = "serving-tests"
ROLE = "arn:aws:iam::000000000000:role/sagepipe-sagemaker-role"

# What the pipeline's DeployApi action passes with the endpoint name (the pipeline stack's
# boundary policy for the function's role; locally the role is recorded, not created).
PERMISSIONS_BOUNDARY = "arn:aws:iam::000000000000:policy/sagepipe-api-boundary"


def api_parameters(endpoint: str) -> dict[str, str]:
    """The API stack's parameters, as DeployApi sets them for `endpoint`."""
    return {"EndpointName": endpoint, "PermissionsBoundaryArn": PERMISSIONS_BOUNDARY}


def local_process_env(settings: Settings) -> dict[str, str]:
    """This environment pointed at the local AWS, as the local CodeBuild runs commands."""
    return {**os.environ, **local_env(settings)}


def ensure_bucket(settings: Settings) -> None:
    s3 = client(settings, "s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)


def training_state_machine(settings: Settings) -> str:
    """The training workflow's stack (workflows/templates/titanic_train.yaml, deployed through
    the local CloudFormation once per local AWS, as the pipeline's Build stage deploys it): the
    ARN of its state machine."""
    ensure_bucket(settings)
    cf = client(settings, "cloudformation")
    try:
        cf.describe_stacks(StackName=TRAINING_STACK)
    except ClientError:
        cf.create_stack(
            StackName=TRAINING_STACK, TemplateBody=TRAINING_TEMPLATE.read_text(),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in {
                "Bucket": BUCKET, "Prefix": "serving", "SageMakerRoleArn": ROLE,
                "TitanicImageUri": MODEL_IMAGE_URI}.items()])
    cf.get_waiter("stack_create_complete").wait(
        StackName=TRAINING_STACK, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    (stack,) = cf.describe_stacks(StackName=TRAINING_STACK)["Stacks"]
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "StateMachineArn")


def run_training(settings: Settings, output: Path, *arguments: str) -> subprocess.CompletedProcess:
    """The pipeline's training script on the training workflow's state machine, as CodeBuild
    runs it (the environment pointed at the local AWS)."""
    return subprocess.run(
        [sys.executable, str(TRAINER), "--state-machine-arn", training_state_machine(settings),
         "--output", str(output), *arguments],
        env=local_process_env(settings), capture_output=True, text=True, timeout=900,
        check=False)


def train(settings: Settings, data: Path, workdir: Path, **hyperparameters: str) -> dict:
    """Prepare and train on `data` with real jobs, as the pipeline's Train action does: the
    training script's training.json (ModelDataUrl, TestDataUri, Metrics, ...)."""
    tag = "-".join(f"{k}-{v}" for k, v in sorted(hyperparameters.items())) or "default"
    output = workdir / f"training-{tag}.json"
    done = run_training(settings, output, "--data", str(data),
                        *(f"--hyperparameter={k}={v}" for k, v in hyperparameters.items()))
    assert done.returncode == 0, f"training failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(output.read_text())


def create_endpoint(sm: Any, image: str, model_data_url: str | None = None,
                    environment: dict[str, str] | None = None, wait: bool = True) -> str:
    """Model -> endpoint config -> endpoint (one instance) through boto3; waits for InService
    unless told not to."""
    name = unique("api-test")
    container = {"Image": image, "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                                                 **(environment or {})}}
    if model_data_url:
        container["ModelDataUrl"] = model_data_url
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    if wait:
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 180})
    return name


def package_api(settings: Settings, out: Path) -> Path:
    """`chalice package` + `aws cloudformation package` as CodePipeline/buildspecs/api.yml runs
    them (the code lands in the local S3): the packaged template."""
    env = local_process_env(settings)
    chalice_package(out, "--stage", "prod", "--merge-template",
                    str(REPO / "CodePipeline" / "api-parameters.json"), env=env)
    ensure_bucket(settings)
    packaged = out / "packaged.yaml"
    subprocess.run([str(BIN / "aws"), "cloudformation", "package", "--template-file",
                    str(out / "sam.json"), "--s3-bucket", BUCKET, "--s3-prefix", "api",
                    "--output-template-file", str(packaged)], env=env, check=True,
                   capture_output=True)
    return packaged


# The session fixtures (pytest_plugins = ["serving_kit"]).

@pytest.fixture(scope="session")
def images(local_aws: Settings) -> Settings:
    """The session's local AWS (the example model registered), with the stub model server."""
    register_stub_image(local_aws)
    return local_aws


@pytest.fixture(scope="session")
def training(images: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """training.json of the example model trained with its default hyperparameters."""
    return train(images, TEST_DATA / "titanic_train.csv", tmp_path_factory.mktemp("training"))


@pytest.fixture(scope="session")
def model_endpoint(images: Settings, training: dict) -> str:
    """An InService endpoint serving the trained example model."""
    return create_endpoint(client(images, "sagemaker"), MODEL_IMAGE_URI, training["ModelDataUrl"])
