"""A resource that fails: the events name it and say why, the stack rolls back (or, with
OnFailure, is deleted or left as it is), deletion policies decide what a rollback and a delete
keep, and a bucket that still holds objects fails its stack's deletion, as in AWS."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from stack_kit import parameters, statuses, wait
from testkit import unique

FAILING = """
Parameters:
  Bad: {Type: String, Default: Not_A_Bucket_Name}
  Kept: {Type: String}
Resources:
  Topic: {Type: AWS::SNS::Topic}
  KeptBucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties: {BucketName: !Ref Kept}
  Broken:
    Type: AWS::S3::Bucket
    DependsOn: [Topic, KeptBucket]
    Properties: {BucketName: !Ref Bad}
"""


def events_of(cfn, stack: str) -> list[dict]:
    return [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack)
            for e in page["StackEvents"]]


def topics(sns) -> list[str]:
    return [t["TopicArn"] for t in sns.list_topics()["Topics"]]


def test_a_failing_resource_rolls_the_create_back_and_is_named(aws):
    cfn, s3, sns, name, kept = (aws("cloudformation"), aws("s3"), aws("sns"), unique("rb"),
                                unique("kept"))
    stack_id = cfn.create_stack(StackName=name, TemplateBody=FAILING,
                                Parameters=parameters(Kept=kept))["StackId"]
    with pytest.raises(Exception, match="Waiter StackCreateComplete failed"):
        wait(cfn, "stack_create_complete", StackName=name)
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = events_of(cfn, name)
    failed = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert failed["LogicalResourceId"] == "Broken"
    assert failed["ResourceStatusReason"].startswith(
        "InvalidBucketName: The specified bucket is not valid")
    rollback = next(e for e in events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS")
    assert rollback["ResourceStatusReason"] == (
        "The following resource(s) failed to create: [Broken]. Rollback requested by user.")
    assert statuses(cfn, name, "Topic") == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE",
                                            "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    assert statuses(cfn, name, "KeptBucket")[-1] == "DELETE_SKIPPED"  # Retain, even now
    topic = next(e["PhysicalResourceId"] for e in events if e["LogicalResourceId"] == "Topic"
                 and e["ResourceStatus"] == "CREATE_COMPLETE")
    assert topic.startswith("arn:aws:sns:") and topic not in topics(sns)
    s3.head_bucket(Bucket=kept)
    assert cfn.describe_stack_resources(StackName=name)["StackResources"] == []
    with pytest.raises(ClientError, match="is in ROLLBACK_COMPLETE state and can not be "
                                          "updated"):
        cfn.update_stack(StackName=name, TemplateBody=FAILING,
                         Parameters=parameters(Kept=kept, Bad="good-bucket-name"))
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == \
        "DELETE_COMPLETE"
    s3.delete_bucket(Bucket=kept)


def test_on_failure_do_nothing_keeps_what_was_made_and_delete_removes_the_stack(aws):
    cfn, s3, name, kept = aws("cloudformation"), aws("s3"), unique("keep"), unique("kept")
    cfn.create_stack(StackName=name, TemplateBody=FAILING, OnFailure="DO_NOTHING",
                     Parameters=parameters(Kept=kept))
    with pytest.raises(Exception, match="Waiter StackCreateComplete failed"):
        wait(cfn, "stack_create_complete", StackName=name)
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_FAILED" and stack["DisableRollback"] is True
    resources = {r["LogicalResourceId"]: r["ResourceStatus"]
                 for r in cfn.describe_stack_resources(StackName=name)["StackResources"]}
    assert resources == {"Topic": "CREATE_COMPLETE", "KeptBucket": "CREATE_COMPLETE",
                         "Broken": "CREATE_FAILED"}
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)
    s3.delete_bucket(Bucket=kept)

    gone, kept = unique("gone"), unique("kept")
    stack_id = cfn.create_stack(StackName=gone, TemplateBody=FAILING, OnFailure="DELETE",
                                Parameters=parameters(Kept=kept))["StackId"]
    wait(cfn, "stack_delete_complete", StackName=stack_id)
    assert statuses(cfn, stack_id)[-3:] == ["ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS",
                                            "DELETE_COMPLETE"]
    s3.delete_bucket(Bucket=kept)


def test_retain_except_on_create_and_the_operation_flag(aws):
    """RetainExceptOnCreate resources go with a failed create and stay after a delete; the
    RetainExceptOnCreate request flag makes a failed create delete even Retain ones."""
    cfn, s3 = aws("cloudformation"), aws("s3")
    template = FAILING.replace("DeletionPolicy: Retain", "DeletionPolicy: RetainExceptOnCreate")
    name, kept = unique("roc"), unique("roc")
    cfn.create_stack(StackName=name, TemplateBody=template, Parameters=parameters(Kept=kept))
    with pytest.raises(Exception, match="Waiter StackCreateComplete failed"):
        wait(cfn, "stack_create_complete", StackName=name)
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=kept)  # deleted by the rollback of the create that made it
    cfn.delete_stack(StackName=name)

    name, kept = unique("roc"), unique("roc")
    cfn.create_stack(StackName=name, TemplateBody=template,
                     Parameters=parameters(Kept=kept, Bad="a-valid-bucket-" + kept))
    wait(cfn, "stack_create_complete", StackName=name)
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)
    s3.head_bucket(Bucket=kept)  # kept by a delete after a successful create
    s3.delete_bucket(Bucket=kept)

    name, kept = unique("flag"), unique("flag")
    cfn.create_stack(StackName=name, TemplateBody=FAILING, RetainExceptOnCreate=True,
                     Parameters=parameters(Kept=kept))
    with pytest.raises(Exception, match="Waiter StackCreateComplete failed"):
        wait(cfn, "stack_create_complete", StackName=name)
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=kept)
    cfn.delete_stack(StackName=name)


def test_a_failed_update_rolls_back_to_what_was_there(aws):
    cfn, sns, name = aws("cloudformation"), aws("sns"), unique("urb")
    good = """
Parameters:
  Label: {Type: String}
Resources:
  Topic: {Type: AWS::SNS::Topic, Properties: {DisplayName: !Ref Label}}
Outputs:
  Arn: {Value: !Ref Topic}
"""
    cfn.create_stack(StackName=name, TemplateBody=good, Parameters=parameters(Label="before"))
    wait(cfn, "stack_create_complete", StackName=name)
    arn = cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"][0]["OutputValue"]
    bad = good.replace("Outputs:", """  Broken:
    Type: AWS::S3::Bucket
    DependsOn: Topic
    Properties: {BucketName: Not_Valid}
Outputs:""")
    cfn.update_stack(StackName=name, TemplateBody=bad, Parameters=parameters(Label="after"))
    with pytest.raises(Exception, match="Waiter StackUpdateComplete failed"):
        wait(cfn, "stack_update_complete", StackName=name)
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack["StackStatusReason"] == "The following resource(s) failed to create: [Broken]. "
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "before"
    assert statuses(cfn, name, "Topic")[-4:] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE",
                                                 "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert [r["LogicalResourceId"] for r in
            cfn.describe_stack_resources(StackName=name)["StackResources"]] == ["Topic"]
    assert {p["ParameterValue"] for p in stack["Parameters"]} == {"before"}
    cfn.update_stack(StackName=name, TemplateBody=good, Parameters=parameters(Label="again"))
    wait(cfn, "stack_update_complete", StackName=name)  # updatable after a rollback
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)


def test_a_bucket_with_objects_fails_the_delete_until_emptied_or_retained(aws):
    cfn, s3, name = aws("cloudformation"), aws("s3"), unique("full")
    cfn.create_stack(StackName=name, TemplateBody="""
Resources:
  Data: {Type: AWS::S3::Bucket}
  Topic: {Type: AWS::SNS::Topic}
Outputs:
  Bucket: {Value: !Ref Data}
""")
    wait(cfn, "stack_create_complete", StackName=name)
    bucket = cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"][0]["OutputValue"]
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=b"weights")
    with pytest.raises(ClientError, match="RetainResources can only be specified when the "
                                          "stack is in the DELETE_FAILED state"):
        cfn.delete_stack(StackName=name, RetainResources=["Data"])
    cfn.delete_stack(StackName=name)
    with pytest.raises(Exception, match="Waiter StackDeleteComplete failed"):
        wait(cfn, "stack_delete_complete", StackName=name)
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Data]. "
    (resource,) = cfn.describe_stack_resources(StackName=name)["StackResources"]
    assert (resource["LogicalResourceId"], resource["ResourceStatus"]) == ("Data",
                                                                           "DELETE_FAILED")
    assert "BucketNotEmpty" in resource["ResourceStatusReason"]
    assert s3.get_object(Bucket=bucket, Key="model.tar.gz")["Body"].read() == b"weights"

    cfn.delete_stack(StackName=name, RetainResources=["Data"])
    wait(cfn, "stack_delete_complete", StackName=name)
    assert s3.get_object(Bucket=bucket, Key="model.tar.gz")["Body"].read() == b"weights"
    s3.delete_object(Bucket=bucket, Key="model.tar.gz")
    s3.delete_bucket(Bucket=bucket)


def test_update_replace_policy_keeps_the_replaced_bucket_and_disable_rollback_stops(aws):
    cfn, s3, name = aws("cloudformation"), aws("s3"), unique("urp")
    first, second = unique("urp-first"), unique("urp-second")
    template = """
Parameters:
  BucketName: {Type: String}
  Label: {Type: String, Default: a}
Resources:
  Data:
    Type: AWS::S3::Bucket
    UpdateReplacePolicy: Retain
    Properties: {BucketName: !Ref BucketName}
  Key: {Type: AWS::KMS::Key}
  Topic: {Type: AWS::SNS::Topic, Properties: {DisplayName: !Ref Label}}
Outputs:
  KeyId: {Value: !Ref Key}
  KeyArn: {Value: !GetAtt Key.Arn}
"""
    cfn.create_stack(StackName=name, TemplateBody=template,
                     Parameters=parameters(BucketName=first))
    wait(cfn, "stack_create_complete", StackName=name)
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cfn.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
    assert outputs["KeyArn"] == f"arn:aws:kms:us-east-1:000000000000:key/{outputs['KeyId']}"

    cfn.update_stack(StackName=name, TemplateBody=template,
                     Parameters=parameters(BucketName=second))  # a new name: replacement
    wait(cfn, "stack_update_complete", StackName=name)
    s3.head_bucket(Bucket=first)  # the replaced bucket is kept (UpdateReplacePolicy: Retain)
    s3.head_bucket(Bucket=second)
    assert statuses(cfn, name, "Data")[-1] == "DELETE_SKIPPED"

    broken = template.replace("  Key: {Type: AWS::KMS::Key}\n", "  Key: {Type: AWS::KMS::Key}\n"
                              "  Broken:\n    Type: AWS::S3::Bucket\n    DependsOn: Topic\n"
                              "    Properties: {BucketName: Not_Valid}\n")
    cfn.update_stack(StackName=name, TemplateBody=broken, DisableRollback=True,
                     Parameters=parameters(BucketName=second, Label="b"))
    with pytest.raises(Exception, match="Waiter StackUpdateComplete failed"):
        wait(cfn, "stack_update_complete", StackName=name)
    (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "UPDATE_FAILED"  # no rollback: what was done stays
    topic = cfn.describe_stack_resource(StackName=name, LogicalResourceId="Topic")[
        "StackResourceDetail"]["PhysicalResourceId"]
    assert aws("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "b"
    cfn.update_stack(StackName=name, TemplateBody=template,
                     Parameters=parameters(BucketName=second, Label="c"))  # and it goes on
    wait(cfn, "stack_update_complete", StackName=name)
    assert [r["LogicalResourceId"] for r in cfn.describe_stack_resources(
        StackName=name)["StackResources"]] == ["Data", "Key", "Topic"]
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)
    s3.delete_bucket(Bucket=first)
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=second)  # deleted with the stack (DeletionPolicy: Delete)
