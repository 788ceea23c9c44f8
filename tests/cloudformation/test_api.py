"""The local CloudFormation API through boto3, as a user or CodePipeline calls it: stacks
created asynchronously (the StackId at once, the work in the background, boto3's waiters),
described by name and by id (deleted ones too), their events newest first and paginated,
their resources, templates and summaries, updates (UsePreviousValue, "No updates are to be
performed."), deletes (idempotent, DeletionPolicy), termination protection."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from stack_kit import parameters, statuses, wait
from testkit import unique

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Description: a topic and a bucket
Parameters:
  Label: {Type: String, Description: the topic's display name}
  Secret: {Type: String, NoEcho: true, Default: hidden}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties: {DisplayName: !Ref Label}
  Bucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Metadata: {Purpose: kept after the stack}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {AlarmDescription: !Sub "alarm on ${Topic.TopicName}"}
Outputs:
  TopicArn: {Value: !Ref Topic, Description: the topic}
  BucketName: {Value: !Ref Bucket}
"""


def test_a_stack_is_created_in_the_background_and_described_as_aws_does(aws):
    cfn, name = aws("cloudformation"), unique("api")
    stack_id = cfn.create_stack(StackName=name, TemplateBody=TEMPLATE,
                                Parameters=parameters(Label="first"),
                                Tags=[{"Key": "team", "Value": "ml"}],
                                RoleARN="arn:aws:iam::000000000000:role/deployer",
                                ClientRequestToken="token-1")["StackId"]
    assert stack_id.startswith(f"arn:aws:cloudformation:us-east-1:000000000000:stack/{name}/")
    wait(cfn, "stack_create_complete", StackName=name)

    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Description"] == "a topic and a bucket"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Label": "first", "Secret": "****"}  # NoEcho values are masked
    assert stack["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert stack["RoleARN"] == "arn:aws:iam::000000000000:role/deployer"
    outputs = {o["OutputKey"]: o for o in stack["Outputs"]}
    topic_arn = outputs["TopicArn"]["OutputValue"]
    assert topic_arn.startswith("arn:aws:sns:us-east-1:000000000000:Topic-")
    assert outputs["TopicArn"]["Description"] == "the topic"
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackName"] == name
    assert name in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]

    # the resources exist for real in the local AWS; the alarm is recorded
    attributes = aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["DisplayName"] == "first"
    bucket = outputs["BucketName"]["OutputValue"]
    assert bucket.startswith("bucket-") and bucket == bucket.lower()
    aws("s3").head_bucket(Bucket=bucket)
    resources = {r["LogicalResourceId"]: r for r in
                 cfn.describe_stack_resources(StackName=name)["StackResources"]}
    assert resources["Topic"]["PhysicalResourceId"] == topic_arn
    assert resources["Alarm"]["ResourceStatusReason"] == "not emulated locally, recorded only"
    assert {r["ResourceStatus"] for r in resources.values()} == {"CREATE_COMPLETE"}
    detail = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Bucket")[
        "StackResourceDetail"]
    assert json.loads(detail["Metadata"]) == {"Purpose": "kept after the stack"}
    by_physical = cfn.describe_stack_resources(PhysicalResourceId=topic_arn)["StackResources"]
    assert {r["StackName"] for r in by_physical} == {name}
    summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert sorted(r["LogicalResourceId"] for r in summaries) == ["Alarm", "Bucket", "Topic"]

    # events: newest first, the request token on each, resources named
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    assert events[0]["ResourceStatus"] == "CREATE_COMPLETE"
    assert events[0]["LogicalResourceId"] == name
    assert events[-1]["ResourceStatus"] == "CREATE_IN_PROGRESS"
    assert {e["ClientRequestToken"] for e in events} == {"token-1"}
    assert statuses(cfn, name, "Topic") == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]

    # the template as submitted, and what a deploy needs to know of it
    template = cfn.get_template(StackName=name)
    assert template["TemplateBody"] == TEMPLATE
    assert template["StagesAvailable"] == ["Original", "Processed"]
    summary = cfn.get_template_summary(StackName=name)
    assert [p["ParameterKey"] for p in summary["Parameters"]] == ["Label", "Secret"]
    assert summary["ResourceTypes"] == ["AWS::CloudWatch::Alarm", "AWS::S3::Bucket",
                                        "AWS::SNS::Topic"]

    # update: UsePreviousValue, then nothing to do
    cfn.update_stack(StackName=name, UsePreviousTemplate=True,
                     Parameters=[{"ParameterKey": "Label", "UsePreviousValue": True},
                                 {"ParameterKey": "Secret", "ParameterValue": "other"}])
    wait(cfn, "stack_update_complete", StackName=name)
    with pytest.raises(ClientError) as caught:
        cfn.update_stack(StackName=name, UsePreviousTemplate=True,
                         Parameters=[{"ParameterKey": "Label", "UsePreviousValue": True},
                                     {"ParameterKey": "Secret", "UsePreviousValue": True}])
    assert caught.value.response["Error"] == {
        "Type": "Sender", "Code": "ValidationError", "Message": "No updates are to be performed."}
    cfn.update_stack(StackName=name, TemplateBody=TEMPLATE,
                     Parameters=parameters(Label="second"))
    wait(cfn, "stack_update_complete", StackName=name)
    assert aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"][
        "DisplayName"] == "second"  # updated in place: the same topic
    assert statuses(cfn, name)[-3:] == ["UPDATE_IN_PROGRESS",
                                        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]

    # delete: the topic goes, the Retain bucket stays; the stack is found by id only
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)
    with pytest.raises(ClientError, match=f"Stack with id {name} does not exist"):
        cfn.describe_stacks(StackName=name)
    (deleted,) = cfn.describe_stacks(StackName=stack_id)["Stacks"]
    assert deleted["StackStatus"] == "DELETE_COMPLETE" and "DeletionTime" in deleted
    with pytest.raises(ClientError, match="Topic does not exist"):
        aws("sns").get_topic_attributes(TopicArn=topic_arn)
    aws("s3").head_bucket(Bucket=bucket)
    assert statuses(cfn, stack_id, "Bucket")[-1] == "DELETE_SKIPPED"
    listed = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert stack_id in [s["StackId"] for s in listed]
    assert stack_id not in [s["StackId"] for s in cfn.list_stacks(
        StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]]
    cfn.delete_stack(StackName=name)  # idempotent, as in AWS
    cfn.delete_stack(StackName=stack_id)
    aws("s3").delete_bucket(Bucket=bucket)


def test_events_are_paginated_newest_first(aws):
    cfn, name = aws("cloudformation"), unique("events")
    many = "Resources:\n" + "".join(f"  R{i}: {{Type: AWS::CloudWatch::Alarm}}\n"
                                    for i in range(60))
    cfn.create_stack(StackName=name, TemplateBody=many)
    wait(cfn, "stack_create_complete", StackName=name)
    first = cfn.describe_stack_events(StackName=name)
    assert len(first["StackEvents"]) == 100 and first["NextToken"]
    rest = cfn.describe_stack_events(StackName=name, NextToken=first["NextToken"])
    events = first["StackEvents"] + rest["StackEvents"]
    assert len(events) == 2 + 60 * 2 and "NextToken" not in rest
    times = [e["Timestamp"] for e in events]
    assert times == sorted(times, reverse=True)
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)


def test_termination_protection_refuses_a_delete(aws):
    cfn, name = aws("cloudformation"), unique("protected")
    cfn.create_stack(StackName=name, TemplateBody="Resources: {A: {Type: AWS::SNS::Topic}}",
                     EnableTerminationProtection=True)
    wait(cfn, "stack_create_complete", StackName=name)
    with pytest.raises(ClientError) as caught:
        cfn.delete_stack(StackName=name)
    assert caught.value.response["Error"]["Message"] == (
        f"Stack [{name}] cannot be deleted while TerminationProtection is enabled")
    cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)


def test_validate_template_reports_parameters_and_capabilities(aws):
    cfn = aws("cloudformation")
    answer = cfn.validate_template(TemplateBody="""
Description: roles
Parameters:
  Name: {Type: String, Default: x, Description: the role's name}
Resources:
  Named: {Type: AWS::IAM::Role, Properties: {RoleName: !Ref Name, AssumeRolePolicyDocument: {}}}
""")
    assert answer["Description"] == "roles"
    assert answer["Parameters"] == [{"ParameterKey": "Name", "DefaultValue": "x",
                                     "NoEcho": False, "Description": "the role's name"}]
    assert answer["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert answer["CapabilitiesReason"] == (
        "The following resource(s) require capabilities: [AWS::IAM::Role]")
