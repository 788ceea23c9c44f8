"""Exports and Fn::ImportValue as in AWS: export names are unique in a region, an import reads
the value, an export in use can neither change nor go with its stack, ListExports and
ListImports say who exports and who imports what."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from stack_kit import parameters, statuses, wait
from testkit import unique

EXPORTER = """
Parameters:
  Prefix: {Type: String}
  Label: {Type: String, Default: one}
Resources:
  Topic: {Type: AWS::SNS::Topic, Properties: {DisplayName: !Ref Label}}
Outputs:
  TopicArn:
    Value: !Ref Topic
    Export: {Name: !Sub "${Prefix}-topic"}
  Label:
    Value: !Ref Label
    Export: {Name: !Sub "${Prefix}-label"}
"""
IMPORTER = """
Parameters:
  Prefix: {Type: String}
Resources:
  Subscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: {"Fn::ImportValue": !Sub "${Prefix}-topic"}
      Protocol: email
      Endpoint: imports@example.com
Outputs:
  Subscribed: {Value: {"Fn::ImportValue": !Sub "${Prefix}-topic"}}
"""


def test_exports_are_imported_unique_and_protected_while_in_use(aws):
    cfn, sns = aws("cloudformation"), aws("sns")
    prefix, exporter, importer = unique("x"), unique("exporter"), unique("importer")
    exporter_id = cfn.create_stack(StackName=exporter, TemplateBody=EXPORTER,
                                   Parameters=parameters(Prefix=prefix))["StackId"]
    wait(cfn, "stack_create_complete", StackName=exporter)
    exports = {e["Name"]: e for e in cfn.list_exports()["Exports"]}
    topic_arn = exports[f"{prefix}-topic"]["Value"]
    assert topic_arn.startswith("arn:aws:sns:us-east-1:000000000000:Topic-")
    assert exports[f"{prefix}-topic"]["ExportingStackId"] == exporter_id
    outputs = cfn.describe_stacks(StackName=exporter)["Stacks"][0]["Outputs"]
    assert {o["OutputKey"]: o.get("ExportName") for o in outputs} == {
        "TopicArn": f"{prefix}-topic", "Label": f"{prefix}-label"}

    cfn.create_stack(StackName=importer, TemplateBody=IMPORTER,
                     Parameters=parameters(Prefix=prefix))
    wait(cfn, "stack_create_complete", StackName=importer)
    assert cfn.describe_stacks(StackName=importer)["Stacks"][0]["Outputs"][0][
        "OutputValue"] == topic_arn
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions] == ["imports@example.com"]
    assert cfn.list_imports(ExportName=f"{prefix}-topic")["Imports"] == [importer]
    with pytest.raises(ClientError, match=f"Export '{prefix}-label' is not imported by any "
                                          "stack."):
        cfn.list_imports(ExportName=f"{prefix}-label")

    # a second stack cannot export the same name: its create rolls back, saying why
    clash = unique("clash")
    cfn.create_stack(StackName=clash, TemplateBody=EXPORTER,
                     Parameters=parameters(Prefix=prefix))
    with pytest.raises(Exception, match="Waiter StackCreateComplete failed"):
        wait(cfn, "stack_create_complete", StackName=clash)
    (stack,) = cfn.describe_stacks(StackName=clash)["Stacks"]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack["StackStatusReason"] == (f"Export with name {prefix}-label is already exported "
                                          f"by stack {exporter}. Rollback requested by user.")
    cfn.delete_stack(StackName=clash)

    # an export in use cannot change, and its stack cannot be deleted
    cfn.update_stack(StackName=exporter, TemplateBody=EXPORTER,
                     Parameters=parameters(Prefix=prefix, Label="two"))  # not imported: fine
    wait(cfn, "stack_update_complete", StackName=exporter)
    cfn.update_stack(StackName=exporter, TemplateBody=EXPORTER.replace("!Ref Topic",
                                                                       "!GetAtt Topic.TopicName"),
                     Parameters=parameters(Prefix=prefix, Label="two"))
    with pytest.raises(Exception, match="Waiter StackUpdateComplete failed"):
        wait(cfn, "stack_update_complete", StackName=exporter)
    (stack,) = cfn.describe_stacks(StackName=exporter)["Stacks"]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack["StackStatusReason"] == (f"Cannot update export {prefix}-topic as it is in use "
                                          f"by {importer}. ")
    cfn.delete_stack(StackName=exporter)
    with pytest.raises(Exception, match="Waiter StackDeleteComplete failed"):
        wait(cfn, "stack_delete_complete", StackName=exporter)
    assert cfn.describe_stacks(StackName=exporter)["Stacks"][0]["StackStatusReason"] == (
        f"Export {prefix}-topic cannot be deleted as it is in use by {importer}")

    cfn.delete_stack(StackName=importer)
    wait(cfn, "stack_delete_complete", StackName=importer)
    cfn.delete_stack(StackName=exporter)
    wait(cfn, "stack_delete_complete", StackName=exporter)
    assert statuses(cfn, exporter_id)[-1] == "DELETE_COMPLETE"
    assert f"{prefix}-topic" not in {e["Name"] for e in cfn.list_exports()["Exports"]}


def test_an_import_of_a_missing_export_is_refused(aws):
    cfn = aws("cloudformation")
    with pytest.raises(ClientError) as caught:
        cfn.create_stack(StackName=unique("orphan"), TemplateBody=IMPORTER,
                         Parameters=parameters(Prefix="never-exported"))
    assert caught.value.response["Error"]["Message"] == (
        "No export named never-exported-topic found")
