"""The local IAM through boto3: roles and their policies kept as IAM keeps them, and
SimulatePrincipalPolicy deciding from a role's recorded policies what IAM would decide (the
SageMaker SDK checks its execution role so, through the paginator, before training)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from testkit import unique

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})



def code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return caught.value.response["Error"]["Code"]


@pytest.fixture
def iam(aws):
    return aws("iam")


@pytest.fixture
def role(iam) -> dict:
    return iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(TRUST),
                           Description="for the tests")["Role"]


def decisions(iam, role_arn: str, actions: list[str], **extra) -> dict[tuple[str, str], str]:
    """(action, resource) -> EvalDecision, read through the paginator as the SDK reads it."""
    found = {}
    for page in iam.get_paginator("simulate_principal_policy").paginate(
            PolicySourceArn=role_arn, ActionNames=actions, **extra):
        for result in page["EvaluationResults"]:
            found[result["EvalActionName"], result["EvalResourceName"]] = result["EvalDecision"]
    return found


def test_a_role_is_created_read_listed_tagged_and_deleted(iam, role):
    name = role["RoleName"]
    assert role["Arn"] == f"arn:aws:iam::000000000000:role/{name}"
    assert role["RoleId"].startswith("AROA") and len(role["RoleId"]) == 21
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == TRUST  # URL-encoded on the wire, as IAM's
    assert got["Description"] == "for the tests" and got["MaxSessionDuration"] == 3600
    assert name in [r["RoleName"] for r in iam.get_paginator("list_roles").paginate()
                    .build_full_result()["Roles"]]
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    assert code(caught) == "EntityAlreadyExists"

    iam.tag_role(RoleName=name, Tags=[{"Key": "team", "Value": "ml"}])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "team", "Value": "ml"}]

    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))
    with pytest.raises(ClientError) as caught:  # IAM wants the policies gone first
        iam.delete_role(RoleName=name)
    assert code(caught) == "DeleteConflict"
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["inline"]
    assert iam.get_role_policy(RoleName=name, PolicyName="inline")["PolicyDocument"][
        "Statement"][0]["Action"] == "s3:GetObject"
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as caught:
        iam.get_role(RoleName=name)
    assert code(caught) == "NoSuchEntity"


def test_managed_policies_are_attached_counted_and_detached(iam, role):
    name = role["RoleName"]
    arn = iam.create_policy(PolicyName=unique("policy"), PolicyDocument=policy(
        {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [arn]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with pytest.raises(ClientError) as caught:
        iam.delete_policy(PolicyArn=arn)
    assert code(caught) == "DeleteConflict"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"]["Statement"][0]["Action"] == "logs:*"
    iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as caught:
        iam.get_policy(PolicyArn=arn)
    assert code(caught) == "NoSuchEntity"


@pytest.mark.parametrize("document", ["not json", json.dumps({"Statement": [{"Action": "x"}]}),
                                      json.dumps(["a list"])])
def test_a_malformed_policy_is_refused(iam, role, document):
    with pytest.raises(ClientError) as caught:
        iam.put_role_policy(RoleName=role["RoleName"], PolicyName="p", PolicyDocument=document)
    assert code(caught) == "MalformedPolicyDocument"
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == []


def test_simulation_decides_from_the_roles_policies(iam, role):
    name, arn = role["RoleName"], role["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="data", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::data/*"},
        {"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "sagemaker:Delete*", "Resource": "*"}))
    found = decisions(iam, arn, ["s3:GetObject", "sagemaker:CreateTrainingJob",
                                 "sagemaker:DeleteEndpoint", "ecr:GetAuthorizationToken"])
    assert found == {("s3:GetObject", "*"): "implicitDeny",  # `*` is a resource like any
                     ("sagemaker:CreateTrainingJob", "*"): "allowed",
                     ("sagemaker:DeleteEndpoint", "*"): "explicitDeny",
                     ("ecr:GetAuthorizationToken", "*"): "implicitDeny"}
    on_data = decisions(iam, arn, ["s3:PutObject"],
                        ResourceArns=["arn:aws:s3:::data/key", "arn:aws:s3:::other/key"])
    assert on_data == {("s3:PutObject", "arn:aws:s3:::data/key"): "allowed",
                       ("s3:PutObject", "arn:aws:s3:::other/key"): "implicitDeny"}
    (denied,) = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["sagemaker:DeleteModel"])["EvaluationResults"]
    assert denied["MatchedStatements"] == [{"SourcePolicyId": "data",
                                            "SourcePolicyType": "role"}]


def test_simulation_applies_conditions_and_the_permissions_boundary(iam, role):
    name, arn = role["RoleName"], role["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="pass", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["iam:PassRole", "sqs:SendMessage"], "Resource": "*",
         "Condition": {"StringEqualsIfExists": {
             "iam:PassedToService": "sagemaker.amazonaws.com"}}}))
    boundary = iam.create_policy(PolicyName=unique("boundary"), PolicyDocument=policy(
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}))["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)

    def passed_to(service: str) -> list[dict]:
        return iam.simulate_principal_policy(
            PolicySourceArn=arn, ActionNames=["iam:PassRole"], ContextEntries=[{
                "ContextKeyName": "iam:PassedToService", "ContextKeyValues": [service],
                "ContextKeyType": "string"}])["EvaluationResults"]
    assert passed_to("sagemaker.amazonaws.com")[0]["EvalDecision"] == "allowed"
    assert passed_to("lambda.amazonaws.com")[0]["EvalDecision"] == "implicitDeny"
    (capped,) = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["sqs:SendMessage"])["EvaluationResults"]
    assert capped["EvalDecision"] == "implicitDeny"  # allowed by the role, not its boundary
    assert capped["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}


def test_simulation_refuses_what_it_cannot_know(iam, role):
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::000000000000:role/nobody",
                                      ActionNames=["s3:GetObject"])
    assert code(caught) == "NoSuchEntity"
    aws_managed = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=aws_managed)  # recorded
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(PolicySourceArn=role["Arn"], ActionNames=["s3:GetObject"])
    assert code(caught) == "InvalidInput"
    assert aws_managed in caught.value.response["Error"]["Message"]
