"""The SageMaker Python SDK v3 (ModelTrainer, ModelBuilder) with its defaults against the local
AWS, in its own venv (ci/checkers.sh sagemaker, built on first use, then cached): train with
logs, build, deploy with its default wait, invoke, delete (sdk/v3_lifecycle.py).

What the SDK needs beyond AWS_ENDPOINT_URL, as a user of AWS needs it too: a role the local IAM
knows, whose policy allows what ModelTrainer's role check simulates; and the default bucket
named in the SDK's config file at its default place (~/.config/sagemaker/config.yaml; no
variable), because to name the default bucket itself the SDK asks STS for the account at
sts.REGION.amazonaws.com whatever AWS_ENDPOINT_URL says (README: "works with a note").
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sagepipe.clients import internal, local_env
from sagepipe.config import ACCOUNT_ID

REPO = Path(__file__).resolve().parents[2]
IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/flask-extra:sdk"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
# What ModelTrainer's role check asks IAM's policy simulator about, by service.
ACTIONS = ["sagemaker:*", "sagemaker-mlflow:*", "s3:*", "logs:*", "ecr:*",
           "cloudwatch:PutMetricData", "ec2:*NetworkInterface*", "ec2:Describe*",
           "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "lambda:InvokeFunction"]


@pytest.fixture
def sdk_role(aws) -> str:
    iam = aws("iam")
    name = "SageMakerSdkRole"
    try:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    except ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    iam.put_role_policy(RoleName=name, PolicyName="sagemaker-sdk", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ACTIONS, "Resource": "*"}]}))
    return iam.get_role(RoleName=name)["Role"]["Arn"]


def test_model_trainer_and_model_builder_with_their_defaults(aws, local_aws, sdk_role,
                                                             tmp_path):
    internal(local_aws, "PUT", "images", {
        "uri": IMAGE, "directory": str(Path(__file__).parent / "images/flask_extra")})
    # The SDK's own config file, where it looks by default (~/.config/sagemaker/config.yaml)
    config = tmp_path / ".config" / "sagemaker" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n"
                      "      Session:\n"
                      f"        DefaultS3Bucket: sagemaker-{local_aws.region}-{ACCOUNT_ID}\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **local_env(local_aws)}
    done = subprocess.run([str(REPO / "ci/checkers.sh"), "sagemaker",
                           str(Path(__file__).parent / "sdk/v3_lifecycle.py"), IMAGE, sdk_role,
                           str(tmp_path / "result.json")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "Completed"
    assert result["answer"] == "2,003\n7,000\n"  # the flask_extra image, through ModelBuilder
    # train() streamed the job's log (CloudWatch Logs) while it waited
    assert "trained on 2 rows: means [2000.0, 3.0]" in done.stdout + done.stderr
    sm = aws("sagemaker")
    assert sm.describe_training_job(
        TrainingJobName=result["training_job"])["TrainingJobStatus"] == "Completed"
    with pytest.raises(ClientError) as gone:  # endpoint.delete() went through
        sm.describe_endpoint(EndpointName=result["endpoint"])
    assert gone.value.response["Error"]["Code"] == "ValidationException"
