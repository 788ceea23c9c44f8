"""The local STS: the AWS CLI's `sts get-caller-identity` names the local account; a role
session from AssumeRole signs calls the local AWS accepts, as that role; a token the home did
not make, or one changed, is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from sagepipe.clients import local_env

AWS_CLI = Path(sys.executable).parent / "aws"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def session_of(credentials: dict, settings, service: str):
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=settings.region,
    ).client(service, endpoint_url=settings.endpoint_url)


def test_the_aws_cli_gets_the_caller_identity(local_aws):
    env = {**os.environ, **local_env(local_aws)}
    shown = subprocess.run([str(AWS_CLI), "sts", "get-caller-identity", "--output", "json"],
                           env=env, capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    identity = json.loads(shown.stdout)
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:user/sagepipe"


def test_an_assumed_roles_credentials_are_accepted_as_that_role(aws, local_aws):
    name = f"session-{uuid.uuid4().hex[:8]}"
    role = aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]
    assumed = aws("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="tests",
                                     DurationSeconds=900)
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert assumed["AssumedRoleUser"]["Arn"] == \
        f"arn:aws:sts::000000000000:assumed-role/{name}/tests"

    identity = session_of(credentials, local_aws, "sts").get_caller_identity()
    assert identity["Arn"] == assumed["AssumedRoleUser"]["Arn"]
    assert identity["UserId"] == f"{role['RoleId']}:tests"
    session_of(credentials, local_aws, "s3").list_buckets()  # any service takes them

    forged = {**credentials, "SessionToken": credentials["SessionToken"][:-4] + "AAAA"}
    with pytest.raises(ClientError) as caught:
        session_of(forged, local_aws, "sts").get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"
    other_secret = {**credentials, "SecretAccessKey": "not-the-derived-secret"}
    with pytest.raises(ClientError) as caught:
        session_of(other_secret, local_aws, "s3").list_buckets()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_assume_role_refuses_a_role_it_does_not_have_or_too_long_a_session(aws):
    sts = aws("sts")
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/nobody", RoleSessionName="xy")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    name = f"short-{uuid.uuid4().hex[:8]}"
    arn = aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=arn, RoleSessionName="xy", DurationSeconds=7200)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
