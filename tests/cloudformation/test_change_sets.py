"""Change sets as `aws cloudformation deploy` and CodePipeline use them: a CREATE change set
makes a REVIEW_IN_PROGRESS stack; an UPDATE one lists Add / Modify (Replacement True or False,
from the type's provider) / Remove; one without changes FAILs with CloudFormation's text;
executing one runs the stack operation and removes the stack's other change sets."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from stack_kit import parameters, statuses, wait
from testkit import unique

TEMPLATE = """
Parameters:
  Label: {Type: String}
  TopicName: {Type: String}
Resources:
  Renamed:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Ref TopicName}
  Labelled:
    Type: AWS::SNS::Topic
    Properties: {DisplayName: !Ref Label}
  Dropped:
    Type: AWS::SNS::Topic
"""
NEXT = TEMPLATE.replace("  Dropped:\n    Type: AWS::SNS::Topic\n",
                        "  Added:\n    Type: AWS::SNS::Topic\n")


def test_create_review_execute_and_update_through_change_sets(aws):
    cfn, sns, name = aws("cloudformation"), aws("sns"), unique("cs")
    first_topic, second_topic = unique("first"), unique("second")
    created = cfn.create_change_set(StackName=name, ChangeSetName="create",
                                    ChangeSetType="CREATE", TemplateBody=TEMPLATE,
                                    Parameters=parameters(Label="a", TopicName=first_topic),
                                    Description="the first one")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == \
        "REVIEW_IN_PROGRESS"
    wait(cfn, "change_set_create_complete", ChangeSetName=created["Id"])
    described = cfn.describe_change_set(ChangeSetName="create", StackName=name)
    assert (described["Status"], described["ExecutionStatus"]) == ("CREATE_COMPLETE",
                                                                    "AVAILABLE")
    assert described["StackId"] == created["StackId"]
    assert described["Description"] == "the first one"
    assert sorted((c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
                  for c in described["Changes"]) == [("Add", "Dropped"), ("Add", "Labelled"),
                                                     ("Add", "Renamed")]
    assert not any(first_topic in t["TopicArn"] for t in sns.list_topics()["Topics"])
    cfn.execute_change_set(ChangeSetName="create", StackName=name)
    wait(cfn, "stack_create_complete", StackName=name)
    assert cfn.describe_change_set(ChangeSetName=created["Id"])["ExecutionStatus"] == \
        "EXECUTE_COMPLETE"
    assert statuses(cfn, name)[:2] == ["REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS"]
    outputs = cfn.describe_stack_resources(StackName=name)["StackResources"]
    before = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in outputs}
    assert before["Renamed"].endswith(f":{first_topic}")

    update = cfn.create_change_set(StackName=name, ChangeSetName="update", TemplateBody=NEXT,
                                   Parameters=parameters(Label="b", TopicName=second_topic))
    wait(cfn, "change_set_create_complete", ChangeSetName=update["Id"])
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
               for c in cfn.describe_change_set(ChangeSetName=update["Id"])["Changes"]}
    assert {k: (v["Action"], v.get("Replacement")) for k, v in changes.items()} == {
        "Renamed": ("Modify", "True"), "Labelled": ("Modify", "False"),
        "Added": ("Add", None), "Dropped": ("Remove", None)}
    assert changes["Renamed"]["Details"][0]["Target"] == {
        "Attribute": "Properties", "Name": "TopicName", "RequiresRecreation": "Always"}
    assert changes["Labelled"]["Details"][0]["Target"]["RequiresRecreation"] == "Never"
    assert changes["Dropped"]["PhysicalResourceId"] == before["Dropped"]
    other = cfn.create_change_set(StackName=name, ChangeSetName="other", TemplateBody=NEXT,
                                  Parameters=parameters(Label="c", TopicName=second_topic))
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName=name)["Summaries"]] == [
        "create", "update", "other"]
    with pytest.raises(ClientError) as caught:
        cfn.create_change_set(StackName=name, ChangeSetName="other", TemplateBody=NEXT,
                              Parameters=parameters(Label="c", TopicName=second_topic))
    assert caught.value.response["Error"]["Code"] == "AlreadyExistsException"

    cfn.execute_change_set(ChangeSetName=update["Id"])
    wait(cfn, "stack_update_complete", StackName=name)
    after = {r["LogicalResourceId"]: r["PhysicalResourceId"]
             for r in cfn.describe_stack_resources(StackName=name)["StackResources"]}
    assert after["Labelled"] == before["Labelled"]  # updated in place
    assert after["Renamed"].endswith(f":{second_topic}")  # replaced, the old one deleted
    arns = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert before["Renamed"] not in arns and before["Dropped"] not in arns
    assert sns.get_topic_attributes(TopicArn=after["Labelled"])["Attributes"][
        "DisplayName"] == "b"
    # the stack's other change sets go once one is executed, as in AWS
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName=name)["Summaries"]] == [
        "update"]
    with pytest.raises(ClientError) as caught:
        cfn.describe_change_set(ChangeSetName=other["Id"])
    assert caught.value.response["Error"]["Code"] == "ChangeSetNotFound"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    # nothing to change: FAILED with CloudFormation's reason, and not executable
    empty = cfn.create_change_set(StackName=name, ChangeSetName="empty", TemplateBody=NEXT,
                                  Parameters=parameters(Label="b", TopicName=second_topic))
    with pytest.raises(Exception, match="Waiter ChangeSetCreateComplete failed"):
        wait(cfn, "change_set_create_complete", ChangeSetName=empty["Id"])
    described = cfn.describe_change_set(ChangeSetName=empty["Id"])
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"] == (
        "The submitted information didn't contain changes. Submit different information to "
        "create a change set.")
    with pytest.raises(ClientError) as caught:
        cfn.execute_change_set(ChangeSetName=empty["Id"])
    assert caught.value.response["Error"]["Code"] == "InvalidChangeSetStatus"
    cfn.delete_change_set(ChangeSetName=empty["Id"])
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)


def test_change_set_errors(aws):
    cfn, name = aws("cloudformation"), unique("cs-errors")
    body = "Resources: {A: {Type: AWS::SNS::Topic}}"
    with pytest.raises(ClientError, match=rf"Stack \[{name}\] does not exist"):
        cfn.create_change_set(StackName=name, ChangeSetName="u", TemplateBody=body)
    with pytest.raises(ClientError, match="Cannot specify UsePreviousValue on Parameters when "
                                          "ChangeSetType is CREATE"):
        cfn.create_change_set(StackName=name, ChangeSetName="c", ChangeSetType="CREATE",
                              TemplateBody="Parameters: {P: {Type: String}}\n" + body,
                              Parameters=[{"ParameterKey": "P", "UsePreviousValue": True}])
    with pytest.raises(ClientError) as caught:
        cfn.describe_change_set(ChangeSetName="c", StackName="no-such-stack")
    assert caught.value.response["Error"]["Message"] == "ChangeSet [c] does not exist"
    with pytest.raises(ClientError, match="StackName must be specified"):
        cfn.describe_change_set(ChangeSetName="c")
