"""The endpoint stack (CloudFormation/endpoint.yaml with config/qa.json's parameters and tags)
deployed, changed and deleted with the AWS CLI against the local AWS, as a user would in AWS:
`aws cloudformation deploy` brings a real endpoint up, a change set shows what a new model
replaces (the model and its configuration) and what it updates in place (the endpoint, whose
stable name is kept), and `delete-stack` takes it down.

`aws cloudformation deploy` polls every 30 s (its own waiter settings), so each deploy here
takes about 30 s, as it would against AWS; the delete is awaited with boto3's waiter polling
each second."""

from __future__ import annotations

import json
import random
import string

from stack_kit import ECHO_URI, aws_cli, invoke, model_data, wait
from testkit import REPO, STUB_IMAGE_DIR, register_image

QA = json.loads((REPO / "CloudFormation" / "config" / "qa.json").read_text())


def overrides(project: str, model: str) -> list[str]:
    values = {**QA["Parameters"], "ProjectName": project, "ImageUri": ECHO_URI,
              "ModelDataUrl": model, "DataCaptureS3Uri": "s3://cfn-api-models/capture/qa",
              "ExecutionRoleArn": "arn:aws:iam::000000000000:role/sagepipe-sagemaker-role"}
    return [f"{key}={value}" for key, value in values.items()]


def test_deploy_change_and_delete_the_endpoint_stack_with_the_aws_cli(local_aws, aws):
    register_image(local_aws, STUB_IMAGE_DIR, ECHO_URI)
    project = "cfn" + "".join(random.choices(string.ascii_lowercase, k=8))
    stack, endpoint = f"{project}-endpoint-qa", f"{project}-qa"
    tags = [f"{key}={value}" for key, value in QA["Tags"].items()]
    deploy = ["cloudformation", "deploy", "--template-file", "CloudFormation/endpoint.yaml",
              "--stack-name", stack, "--tags", *tags, "--parameter-overrides"]

    created = aws_cli(local_aws, *deploy, *overrides(project, model_data(aws("s3"), "v1")))
    assert f"Successfully created/updated stack - {stack}" in created.stdout
    assert invoke(aws("sagemaker-runtime"), endpoint) == "v1:x"
    described = json.loads(aws_cli(local_aws, "cloudformation", "describe-stacks",
                                   "--stack-name", stack).stdout)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert described["Tags"] == [{"Key": "Stage", "Value": "qa"}]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs["EndpointName"] == endpoint
    first_model = outputs["ModelName"]

    # What a new model would do, before doing it.
    preview = aws_cli(local_aws, *deploy, *overrides(project, model_data(aws("s3"), "v2")),
                      "--no-execute-changeset")
    change_set_id = next(word for word in preview.stdout.split()
                         if word.startswith("arn:aws:cloudformation:"))
    changes = json.loads(aws_cli(local_aws, "cloudformation", "describe-change-set",
                                 "--change-set-name", change_set_id).stdout)["Changes"]
    actions = {c["ResourceChange"]["LogicalResourceId"]: (c["ResourceChange"]["Action"],
                                                          c["ResourceChange"]["Replacement"])
               for c in changes}
    assert actions == {"Model": ("Modify", "True"), "EndpointConfig": ("Modify", "True"),
                       "Endpoint": ("Modify", "False")}
    aws_cli(local_aws, "cloudformation", "delete-change-set", "--change-set-name",
            change_set_id)

    updated = aws_cli(local_aws, *deploy, *overrides(project, model_data(aws("s3"), "v2")))
    assert f"Successfully created/updated stack - {stack}" in updated.stdout
    assert invoke(aws("sagemaker-runtime"), endpoint) == "v2:x"  # same endpoint, new model
    models = [m["ModelName"] for m in aws("sagemaker").list_models(MaxResults=100)["Models"]]
    assert first_model not in models  # replaced, and the old one cleaned up

    unchanged = aws_cli(local_aws, *deploy, *overrides(project, model_data(aws("s3"), "v2")),
                        check=False)
    assert unchanged.returncode == 255
    assert "No changes to deploy. Stack " + stack + " is up to date" in unchanged.stderr

    aws_cli(local_aws, "cloudformation", "delete-stack", "--stack-name", stack)
    wait(aws("cloudformation"), "stack_delete_complete", StackName=stack)
    listed = [e["EndpointName"] for e in aws("sagemaker").list_endpoints()["Endpoints"]]
    assert endpoint not in listed
