"""`sagepipe.teardown` against moto's AWS: what it deletes, in which order, and how it stops."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from teardown_kit import IGNORE_MOTO_GAPS, PROJECT, REGION, CallLog, Deployed

from sagepipe.teardown import (
    ECR_DELETE_BATCH,
    S3_DELETE_BATCH,
    Clients,
    Deployment,
    Plan,
    TeardownError,
    run,
    teardown,
)

pytestmark = pytest.mark.filterwarnings(IGNORE_MOTO_GAPS)
DEPLOYMENT = Deployment(PROJECT, f"{PROJECT}-pipeline")


def stack_name(stack_id_or_name: str) -> str:
    """`arn:aws:cloudformation:...:stack/NAME/UUID` -> NAME."""
    return stack_id_or_name.split("/")[1] if stack_id_or_name.startswith("arn:") \
        else stack_id_or_name


def assert_gone(deployed: Deployed) -> None:
    cf = deployed.client("cloudformation")
    for name in deployed.stacks:
        with pytest.raises(ClientError, match="does not exist"):
            cf.describe_stacks(StackName=name)
    assert deployed.bucket not in [b["Name"] for b in deployed.client("s3").list_buckets()
                                   ["Buckets"]]
    with pytest.raises(ClientError) as missing:
        deployed.client("ecr").describe_repositories(repositoryNames=[deployed.repository])
    assert missing.value.response["Error"]["Code"] == "RepositoryNotFoundException"
    sagemaker = deployed.client("sagemaker")
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    assert deployed.client("logs").describe_log_groups()["logGroups"] == []


def assert_untouched(deployed: Deployed) -> None:
    cf = deployed.client("cloudformation")
    for name in deployed.stacks:
        assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    pages = deployed.client("s3").get_paginator("list_object_versions").paginate(
        Bucket=deployed.bucket)
    assert sum(len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
               for page in pages) == deployed.content.object_entries
    images = deployed.client("ecr").list_images(repositoryName=deployed.repository)["imageIds"]
    assert len({i["imageDigest"] for i in images}) == deployed.content.images


def test_deletes_everything_in_order_in_batches(deployed_at_scale: Deployed):
    deployed = deployed_at_scale
    assert_untouched(deployed)
    assert len(deployed.client("sagemaker").list_endpoints()["Endpoints"]) == 2
    clients = Clients.from_session(deployed.session)
    calls, lines = CallLog(clients), []

    plan = teardown(DEPLOYMENT, clients, lines.append)

    assert plan == Plan(deployed.stacks[:-1], deployed.bucket, deployed.repository,
                        deployed.stacks[-1])
    assert_gone(deployed)
    destructive = [(op, stack_name(p["StackName"]) if op == "DeleteStack"
                    else p.get("Bucket") or p.get("repositoryName"))
                   for op, p in calls.named("DeleteStack", "DeleteBucket", "DeleteRepository")]
    assert destructive == [
        ("DeleteStack", f"{PROJECT}-api"), ("DeleteStack", f"{PROJECT}-batch-inference"),
        ("DeleteStack", f"{PROJECT}-endpoint-prod"),
        ("DeleteStack", f"{PROJECT}-endpoint-qa"), ("DeleteStack", f"{PROJECT}-training"),
        ("DeleteBucket", deployed.bucket),
        ("DeleteRepository", deployed.repository), ("DeleteStack", f"{PROJECT}-pipeline")]
    # Each deletion is waited for (stack_delete_complete polls DescribeStacks) before the next.
    for index, (op, params) in enumerate(calls.calls):
        if op == "DeleteStack":
            assert calls.calls[index + 1] == ("DescribeStacks", {"StackName": params["StackName"]})
    # Every version and delete marker, over several pages, in batches of at most 1000.
    assert len(calls.named("ListObjectVersions")) >= 2
    batches = [len(p["Delete"]["Objects"]) for _, p in calls.named("DeleteObjects")]
    assert len(batches) >= 2 and max(batches) <= S3_DELETE_BATCH
    assert sum(batches) == deployed.content.object_entries
    images = [len(p["imageIds"]) for _, p in calls.named("BatchDeleteImage")]
    assert images == [ECR_DELETE_BATCH, deployed.content.images - ECR_DELETE_BATCH]
    assert lines[-1] == f"stack {PROJECT}-pipeline: DELETE_COMPLETE"
    assert f"bucket {deployed.bucket}: deleted with its {deployed.content.object_entries} " \
        "object versions and delete markers" in lines


def test_running_again_finds_nothing_left(deployed: Deployed):
    clients = Clients.from_session(deployed.session)
    teardown(DEPLOYMENT, clients, lambda _: None)
    calls, lines = CallLog(clients), []

    plan = teardown(DEPLOYMENT, clients, lines.append)

    # Without the pipeline stack, the names come from the account, as pipeline.yaml makes them.
    assert plan.bucket == deployed.bucket and calls.named("GetCallerIdentity")
    assert not calls.named("DeleteStack", "DeleteBucket", "DeleteRepository")
    assert all("not found, nothing to delete" in line for line in lines)
    assert len(lines) == len(deployed.stacks) + 2  # the stacks, the bucket, the repository


def test_refuses_another_projects_pipeline_stack(deployed: Deployed):
    clients = Clients.from_session(deployed.session)
    calls = CallLog(clients)
    with pytest.raises(TeardownError, match=f"ProjectName={PROJECT}, not other: pass --project"):
        teardown(Deployment("other", f"{PROJECT}-pipeline"), clients, lambda _: None)
    assert not calls.named("DeleteStack", "DeleteObjects", "DeleteBucket", "BatchDeleteImage",
                           "DeleteRepository")
    assert_untouched(deployed)


def _stack(stack_id: str, status: str) -> dict[str, Any]:
    return {"StackId": stack_id, "StackName": stack_name(stack_id), "StackStatus": status,
            "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}


def _event(stack_id: str, logical: str, kind: str, status: str, reason: str = "") -> dict:
    own = kind == "AWS::CloudFormation::Stack"
    return {"StackId": stack_id, "StackName": stack_name(stack_id),
            "EventId": f"{logical}-{status}", "LogicalResourceId": logical,
            "ResourceType": kind, "ResourceStatus": status,
            "PhysicalResourceId": stack_id if own else f"{logical}-physical",
            "ResourceStatusReason": reason, "Timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}


def test_delete_failed_stops_with_the_stack_events_reasons(deployed: Deployed):
    """CloudFormation's DELETE_FAILED (which moto never produces) comes from a Stubber; the
    bucket and the repository are moto's, and must survive the stop."""
    api_id = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{PROJECT}-api/0d6c6a8e"
    role, stack = "AWS::IAM::Role", "AWS::CloudFormation::Stack"
    cf = deployed.client("cloudformation")
    stubber = Stubber(cf)
    stubber.add_response("describe_stacks", {"Stacks": [_stack(api_id, "UPDATE_COMPLETE")]},
                         {"StackName": f"{PROJECT}-api"})
    stubber.add_response("delete_stack", {}, {"StackName": api_id})
    stubber.add_response("describe_stacks", {"Stacks": [_stack(api_id, "DELETE_FAILED")]},
                         {"StackName": api_id})
    stubber.add_response("describe_stack_events", {"StackEvents": [  # newest first
        _event(api_id, f"{PROJECT}-api", stack, "DELETE_FAILED",
               "The following resource(s) failed to delete: [APIHandlerRole]."),
        _event(api_id, "APIHandlerRole", role, "DELETE_FAILED",
               "Cannot delete entity, must detach all policies first."),
        _event(api_id, "RestAPI", "AWS::ApiGateway::RestApi", "DELETE_COMPLETE"),
        _event(api_id, "APIHandlerRole", role, "DELETE_IN_PROGRESS"),
        _event(api_id, f"{PROJECT}-api", stack, "DELETE_IN_PROGRESS", "User Initiated"),
        _event(api_id, "OldFunction", "AWS::Lambda::Function", "DELETE_FAILED",
               "a previous attempt's reason"),
    ]}, {"StackName": api_id})
    session = deployed.session
    clients = Clients(cf, session.client("s3"), session.client("ecr"), session.client("sts"),
                      REGION)
    plan = Plan(deployed.stacks[:-1], deployed.bucket, deployed.repository, deployed.stacks[-1])

    with stubber, pytest.raises(TeardownError) as stopped:
        run(plan, clients, lambda _: None)

    stubber.assert_no_pending_responses()
    message = str(stopped.value)
    assert f"stack {PROJECT}-api is DELETE_FAILED" in message
    assert "APIHandlerRole (AWS::IAM::Role): Cannot delete entity, must detach all policies" \
        in message
    assert "previous attempt" not in message and "run the teardown again" in message
    assert_untouched(deployed)


def test_missing_credentials_are_named(no_aws_config: None):
    clients = Clients.from_session(boto3.Session(region_name=REGION))
    with pytest.raises(TeardownError, match="no AWS credentials found: configure them"):
        teardown(DEPLOYMENT, clients, lambda _: None)


def test_missing_region_is_named(no_aws_config: None):
    with pytest.raises(TeardownError, match="no AWS region configured"):
        teardown(DEPLOYMENT, log=lambda _: None)
