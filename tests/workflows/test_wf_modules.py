"""`python -m workflows.<name>`: what each module does against an AWS API before the run
itself (moto stands in for AWS at its boundary): the data it uploads, the state machine it
creates or updates (or the stack's it uses), the functions it deploys, the execution it
starts, and the checks that stop it early with the fix."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from workflows_kit import PLACE, START, TITANIC, training_job

from workflows import abalone, aws, experiments, export, titanic_inference, titanic_train
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


def only_execution(sfn) -> tuple[dict, dict]:
    (machine,) = sfn.list_state_machines()["stateMachines"]
    (execution,) = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    described = sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
    return described, json.loads(sfn.describe_execution(
        executionArn=execution["executionArn"])["input"])


def test_abalone_uploads_its_seeded_splits_and_starts_the_notebooks_workflow(cloud):
    assert abalone.main([*COMMON, "--image-uri", IMAGE, "--job-name", "ab-1"]) == 0
    s3 = cloud["s3"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="wf-bucket")["Contents"]]
    assert sorted(keys) == [f"wf/abalone/{s}/abalone-{s}.libsvm"
                            for s in ("test", "train", "validation")]
    rows = {s: s3.get_object(Bucket="wf-bucket", Key=f"wf/abalone/{s}/abalone-{s}.libsvm")[
        "Body"].read().decode().splitlines() for s in ("train", "validation", "test")}
    assert [len(rows[s]) for s in ("train", "validation", "test")] == [2924, 626, 627]
    assert rows == {s: text.splitlines() for s, text in abalone.libsvm_rows().items()}
    assert rows["train"] != abalone.libsvm_rows(seed=1)["train"].splitlines()
    assert all(len(line.split()) == 11 for line in rows["test"])  # label, then 10 features
    machine, execution_input = only_execution(cloud["stepfunctions"])
    place = aws.Place("wf-bucket", "wf", aws.local_role("SageMakerRole"))
    assert json.loads(machine["definition"]) == abalone.build(place, IMAGE).definition.to_dict()
    assert machine["roleArn"] == aws.local_role("sagepipe-workflows")
    assert execution_input == {"JobName": "ab-1", "ModelName": "ab-1", "EndpointName": "ab-1"}


def test_a_second_run_updates_the_state_machine_in_place(cloud):
    assert abalone.main([*COMMON, "--image-uri", IMAGE, "--job-name", "ab-1"]) == 0
    assert abalone.main([*COMMON, "--image-uri", "registry.example/xgboost:2",
                         "--job-name", "ab-2", "--bucket", "other-bucket"]) == 0
    (machine,) = cloud["stepfunctions"].list_state_machines()["stateMachines"]
    definition = cloud["stepfunctions"].describe_state_machine(
        stateMachineArn=machine["stateMachineArn"])["definition"]
    assert "registry.example/xgboost:2" in definition and "s3://other-bucket/" in definition


def test_the_stacks_state_machine_is_run_as_it_is(cloud):
    sfn = cloud["stepfunctions"]
    arn = sfn.create_state_machine(
        name="from-the-stack", roleArn="arn:aws:iam::123456789012:role/StateMachineRole",
        definition=json.dumps(abalone.build(PLACE, IMAGE).definition.to_dict()))[
        "stateMachineArn"]
    before = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
    assert abalone.main([*COMMON, "--image-uri", IMAGE, "--job-name", "ab-3",
                         "--state-machine-arn", arn]) == 0
    assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]] == ["from-the-stack"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == before
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == [
        "ab-3"]


def test_titanic_train_uploads_the_pipelines_default_data(cloud):
    assert titanic_train.main([*COMMON, "--image-uri", TITANIC.replace(
        "000000000000.dkr.ecr.us-east-1.amazonaws.com", "registry.example"),
        "--job-name", "t-1"]) == 0
    body = cloud["s3"].get_object(Bucket="wf-bucket", Key="wf/titanic/raw/titanic.csv")["Body"]
    rows = list(csv.reader(io.StringIO(body.read().decode())))
    assert rows[0] == ["Survived", "Pclass", "Sex", "Age"] and len(rows) > 1000
    _, execution_input = only_execution(cloud["stepfunctions"])
    assert execution_input == {"PreprocessingJobName": "t-1-prepare",
                               "TrainingJobName": "t-1-train"}


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


def test_retail_uploads_generated_rows_and_passes_the_threshold(cloud):
    assert retail.main([*COMMON, "--image-uri", IMAGE, "--lambda-role-arn",
                        cloud["lambda_role"], "--job-name", "r-1", "--rmse-threshold", "0.8",
                        "--invoices", "60"]) == 0
    sfn = cloud["stepfunctions"]
    (machine,) = sfn.list_state_machines()["stateMachines"]
    (execution,) = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    execution_input = json.loads(sfn.describe_execution(
        executionArn=execution["executionArn"])["input"])
    assert execution_input == {"JobName": "r-1", "ModelName": "r-1", "RmseThreshold": 0.8,
                               "RawData": "s3://wf-bucket/wf/retail/raw/r-1.csv"}
    raw = cloud["s3"].get_object(Bucket="wf-bucket", Key="wf/retail/raw/r-1.csv")["Body"]
    assert raw.read().startswith(b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,")


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


def test_an_empty_prefix_is_refused():
    with pytest.raises(SystemExit, match="--prefix must not be empty"):
        aws.settings(aws.parser("x", "y").parse_args(["--prefix", "/"]))


def test_the_export_check_passes_on_the_committed_files(capsys):
    assert export.main(["--check"]) == 0
    assert capsys.readouterr().out == ""


def history(*states: str) -> dict:
    events = [{"timestamp": START, "type": "ExecutionStarted", "id": 1, "previousEventId": 0,
               "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::"
                                                "000000000000:role/sfn"}}]
    events += [{"timestamp": START, "type": "TaskStateEntered", "id": n, "previousEventId": n - 1,
                "stateEnteredEventDetails": {"name": state, "input": "{}"}}
               for n, state in enumerate(states, start=2)]
    return {"events": events}


def test_a_run_follows_its_execution_and_exits_1_with_the_cause(monkeypatch, capsys):
    """The waiting path (which moto cannot show: its executions never end), on a stubbed
    Step Functions client."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    monkeypatch.setattr(aws, "client", lambda service, region: sfn)
    monkeypatch.setattr(aws.time, "sleep", lambda seconds: None)
    machine = "arn:aws:states:us-east-1:000000000000:stateMachine:sagepipe-abalone"
    execution = "arn:aws:states:us-east-1:000000000000:execution:sagepipe-abalone:ab-9"
    reason = '{"FailureReason":"AlgorithmError: num_round is required"}'
    with Stubber(sfn) as stubber:
        stubber.add_response("create_state_machine", {"stateMachineArn": machine,
                                                      "creationDate": START})
        stubber.add_response("update_state_machine", {"updateDate": START})
        stubber.add_response("start_execution", {"executionArn": execution,
                                                 "startDate": START})
        described = {"executionArn": execution, "stateMachineArn": machine,
                     "status": "RUNNING", "startDate": START}
        stubber.add_response("describe_execution", described)
        stubber.add_response("get_execution_history", history("Train Step"))
        stubber.add_response("describe_execution", {**described, "status": "FAILED",
                                                    "stopDate": START,
                                                    "error": "States.TaskFailed",
                                                    "cause": reason})
        for _ in range(2):  # the last look, then the picture of the run
            stubber.add_response("get_execution_history",
                                 history("Train Step", "ML Workflow failed"))
        settings = aws.settings(aws.parser("x", "sagepipe-abalone").parse_args([]))
        with pytest.raises(SystemExit) as exit_:
            aws.run(abalone.build(PLACE, IMAGE), {"JobName": "ab-9", "ModelName": "ab-9",
                                                  "EndpointName": "ab-9"}, settings, "ab-9")
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert "  -> Train Step\n  -> ML Workflow failed\n" in out
    assert err == f"FAILED: States.TaskFailed\n{reason}\n"
