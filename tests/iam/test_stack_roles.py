"""IAM roles and policies of a template, deployed by the local CloudFormation engine into the
local IAM: `Ref`/`Fn::GetAtt` as AWS answers them, changes applied in place, all removed with
the stack, and the SageMaker SDK's role check (SimulatePrincipalPolicy, then the trust policy
through GetRole) satisfied by a role the stack made."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sagepipe.cloudformation.providers import Context
from sagepipe.cloudformation.stacks import Stacks
from sagepipe.cloudformation.template import load
from sagepipe.store import Store

TEMPLATE = """
Parameters:
  Prefix: {Type: String}
  Actions: {Type: CommaDelimitedList, Default: "s3:GetObject"}
Resources:
  Boundary:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: !Sub "${Prefix}-boundary"
      PolicyDocument:
        Statement: [{Effect: Allow, Action: ["s3:*", "sagemaker:*", "logs:*"], Resource: "*"}]
  Shared:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: !Sub "${Prefix}-shared"
      PolicyDocument:
        Statement: [{Effect: Allow, Action: "logs:PutLogEvents", Resource: "*"}]
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "${Prefix}-sagemaker"
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: sagemaker.amazonaws.com},
                     Action: "sts:AssumeRole"}]
      PermissionsBoundary: !Ref Boundary
      ManagedPolicyArns: [!Ref Shared]
      Policies:
        - PolicyName: train
          PolicyDocument:
            Statement: [{Effect: Allow, Action: !Ref Actions, Resource: "*"}]
  Extra:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: !Sub "${Prefix}-extra"
      Roles: [!Ref Role]
      PolicyDocument:
        Statement: [{Effect: Allow, Action: "sagemaker:CreateTrainingJob", Resource: "*"}]
Outputs:
  RoleName: {Value: !Ref Role}
  RoleArn: {Value: !GetAtt Role.Arn}
  RoleId: {Value: !GetAtt Role.RoleId}
  SharedArn: {Value: !Ref Shared}
"""


def decision(iam, role_arn: str, action: str) -> str:
    pages = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=role_arn, ActionNames=[action])
    return next(iter(pages))["EvaluationResults"][0]["EvalDecision"]


@pytest.fixture
def template(tmp_path) -> dict:
    path = Path(tmp_path, "roles.yaml")
    path.write_text(TEMPLATE)
    return load(path)


def test_roles_and_policies_of_a_stack(local_aws, aws, template):
    iam = aws("iam")
    prefix = f"stack-{uuid.uuid4().hex[:8]}"
    stacks = Stacks(Store(local_aws.db_path), Context(local_aws, lambda _line: None))
    outputs = stacks.deploy(prefix, template, {"Prefix": prefix})
    role = iam.get_role(RoleName=outputs["RoleName"])["Role"]
    assert (outputs["RoleArn"], outputs["RoleId"]) == (role["Arn"], role["RoleId"])
    assert outputs["SharedArn"] == f"arn:aws:iam::000000000000:policy/{prefix}-shared"
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith(f"{prefix}-boundary")
    assert sorted(iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]) == [
        f"{prefix}-extra", "train"]
    assert decision(iam, role["Arn"], "s3:GetObject") == "allowed"
    assert decision(iam, role["Arn"], "sagemaker:CreateTrainingJob") == "allowed"  # Extra
    assert decision(iam, role["Arn"], "logs:PutLogEvents") == "allowed"  # Shared
    assert decision(iam, role["Arn"], "s3:PutObject") == "implicitDeny"

    stacks.deploy(prefix, template, {"Prefix": prefix, "Actions": "s3:GetObject,s3:PutObject"})
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["RoleId"] == role["RoleId"]  # kept
    assert decision(iam, role["Arn"], "s3:PutObject") == "allowed"  # updated in place

    stacks.delete(prefix)
    with pytest.raises(ClientError) as caught:
        iam.get_role(RoleName=role["RoleName"])
    assert caught.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError):
        iam.get_policy(PolicyArn=outputs["SharedArn"])
