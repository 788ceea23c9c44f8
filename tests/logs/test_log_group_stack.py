"""AWS::Logs::LogGroup deployed by the local CloudFormation engine into the local CloudWatch
Logs: `Ref` its name, `Fn::GetAtt Arn` AWS's ARN, its retention changed in place, the group
deleted with the stack."""

from __future__ import annotations

from pathlib import Path

from testkit import unique

from sagepipe.cloudformation.providers import Context
from sagepipe.cloudformation.stacks import Stacks
from sagepipe.cloudformation.template import load
from sagepipe.store import Store

TEMPLATE = """
Parameters:
  Name: {Type: String}
  Days: {Type: Number, Default: 7}
Resources:
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Ref Name
      RetentionInDays: !Ref Days
      Tags: [{Key: team, Value: ml}]
Outputs:
  Name: {Value: !Ref Group}
  Arn: {Value: !GetAtt Group.Arn}
"""


def test_a_log_group_of_a_stack(local_aws, logs, tmp_path):
    (tmp_path / "group.yaml").write_text(TEMPLATE)
    template = load(Path(tmp_path, "group.yaml"))
    name, stack = unique("/stack/group"), unique("logs-stack")
    stacks = Stacks(Store(local_aws.db_path), Context(local_aws, lambda _line: None))
    outputs = stacks.deploy(stack, template, {"Name": name})
    assert outputs == {"Name": name,
                       "Arn": f"arn:aws:logs:us-east-1:000000000000:log-group:{name}:*"}
    (group,) = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["retentionInDays"] == 7
    assert logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"] == {
        "team": "ml"}

    stacks.deploy(stack, template, {"Name": name, "Days": "14"})
    (group,) = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["retentionInDays"] == 14

    stacks.delete(stack)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
