"""`python -m workflows.<name>`, the parts the real runs (test_wf_<workflow>.py) do not show:
a second run updating the state machine and the functions in place (moto stands in for AWS at
its boundary), and the checks that stop a run early with the fix (a Stubber answers them)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from workflows_kit import PLACE, TITANIC, training_job

from workflows import abalone, aws, experiments, export, titanic_inference
from workflows.retail import workflow as retail
from workflows.states import XGBOOST_METRICS, training_request

IMAGE = "registry.example/xgboost:1"  # not ECR: the image check leaves it alone
COMMON = ["--no-wait", "--bucket", "wf-bucket", "--prefix", "wf"]


@pytest.fixture
def cloud(monkeypatch) -> Iterator[dict]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="lambda", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        yield {"lambda_role": role, **{service: boto3.client(service, region_name="us-east-1")
                                       for service in ("s3", "stepfunctions", "lambda")}}


def test_a_second_run_updates_the_state_machine_in_place(cloud):
    assert abalone.main([*COMMON, "--image-uri", IMAGE, "--job-name", "ab-1"]) == 0
    assert abalone.main([*COMMON, "--image-uri", "registry.example/xgboost:2",
                         "--job-name", "ab-2", "--bucket", "other-bucket"]) == 0
    (machine,) = cloud["stepfunctions"].list_state_machines()["stateMachines"]
    definition = cloud["stepfunctions"].describe_state_machine(
        stateMachineArn=machine["stateMachineArn"])["definition"]
    assert "registry.example/xgboost:2" in definition and "s3://other-bucket/" in definition


@pytest.mark.parametrize(("module", "functions"), [
    (retail, ["sagepipe-retail-check-metric", "sagepipe-retail-prepare-data"]),
    (experiments, ["sagepipe-experiments-pick-best"])])
def test_the_lambda_workflows_deploy_their_functions(cloud, module, functions):
    args = [*COMMON, "--image-uri", IMAGE, "--lambda-role-arn", cloud["lambda_role"]]
    assert module.main([*args, "--job-name", "run-1"]) == 0
    assert module.main([*args, "--job-name", "run-2"]) == 0  # updated, not created twice
    deployed = sorted(cloud["lambda"].list_functions()["Functions"],
                      key=lambda f: f["FunctionName"])
    assert [f["FunctionName"] for f in deployed] == functions
    assert {f["Runtime"] for f in deployed} == {"python3.12"}
    sfn = cloud["stepfunctions"]
    (machine,) = sfn.list_state_machines()["stateMachines"]
    definition = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])[
        "definition"]
    assert all(f'"FunctionName": "{name}"' in definition for name in functions)


def job(name: str, channels: tuple[str, ...] = ("train", "validation", "preprocessor"),
        failure: str | None = None) -> dict:
    request = {**training_request(TITANIC, PLACE.sagemaker_role_arn, "s3://b/models",
                                  "ml.m5.large", XGBOOST_METRICS), "TrainingJobName": name,
               "InputDataConfig": [{"ChannelName": c, "DataSource": {"S3DataSource": {
                   "S3DataType": "S3Prefix", "S3Uri": f"s3://b/{c}"}}} for c in channels]}
    return training_job(request, {}, failure)


@pytest.mark.parametrize(("described", "message"), [
    (job("t", failure="AlgorithmError: bad"), "training job t is Failed, not Completed: it has "
                                              "no model to score with (AlgorithmError: bad)"),
    (job("t", channels=("train",)), "training job t has no 'preprocessor' channel"),
    (None, "training job t: Could not find job"),
])
def test_inference_refuses_a_training_job_it_cannot_use(described, message):
    sm = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sm) as stubber:
        if described is None:
            stubber.add_client_error("describe_training_job", "ValidationException",
                                     "Could not find job")
        else:
            stubber.add_response("describe_training_job", described)
        with pytest.raises(SystemExit, match=message.replace("(", r"\(").replace(")", r"\)")):
            titanic_inference.check_training_job(sm, "t")
    with Stubber(sm) as stubber:
        stubber.add_response("describe_training_job", job("t"))
        titanic_inference.check_training_job(sm, "t")  # a usable one passes


@pytest.mark.parametrize(("code", "stops"), [("ImageNotFoundException", True),
                                             ("RepositoryNotFoundException", True),
                                             ("AccessDeniedException", False)])
def test_a_missing_image_stops_the_run_with_how_to_register_it(code, stops):
    ecr = boto3.client("ecr", region_name="us-east-1")
    uri = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-xgboost:latest"
    with Stubber(ecr) as stubber:
        stubber.add_client_error("describe_images", code, "no", expected_params={
            "registryId": "000000000000", "repositoryName": "sagepipe-xgboost",
            "imageIds": [{"imageTag": "latest"}]})
        if stops:
            with pytest.raises(SystemExit, match="locally run `sagepipe image register "
                                                 "workflows/images/xgboost --uri "):
                aws.check_image(ecr, uri, abalone.XGBOOST_IMAGE_DIR)
        else:
            aws.check_image(ecr, uri, abalone.XGBOOST_IMAGE_DIR)


@pytest.mark.parametrize(("text", "message"), [
    ("[]", "expected \\[{\"HyperParameters\""), ('[{"max_depth": 2}]', "expected"),
    ("{", "Expecting property name")])
def test_candidates_that_are_not_a_list_of_hyperparameters_are_refused(tmp_path, text, message):
    path = tmp_path / "candidates.json"
    path.write_text(text)
    with pytest.raises(SystemExit, match=f"--candidates {path}: {message}"):
        experiments.read_candidates(path)


def test_candidate_hyperparameters_are_given_as_sagemaker_takes_them(tmp_path):
    path = tmp_path / "candidates.json"
    path.write_text('[{"HyperParameters": {"max_depth": 2, "eta": 0.3}, "Note": "kept"}]')
    assert experiments.read_candidates(path) == [
        {"HyperParameters": {"max_depth": "2", "eta": "0.3"}, "Note": "kept"}]


def test_an_empty_prefix_is_refused():
    with pytest.raises(SystemExit, match="--prefix must not be empty"):
        aws.settings(aws.parser("x", "y").parse_args(["--prefix", "/"]))


def test_the_export_check_passes_on_the_committed_files(capsys):
    assert export.main(["--check"]) == 0
    assert capsys.readouterr().out == ""
