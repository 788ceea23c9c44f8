"""The policy evaluator of iam.py decides as IAM's evaluation logic does, on small policies
made to tell each rule apart."""

from __future__ import annotations

import pytest

from .iam_kit import Call, Principal, Stack, Statement, UnsupportedPolicy, decide, role, without

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

BUCKET = "arn:aws:s3:::data"


def statement(**body) -> Statement:
    return Statement("test", {"Effect": "Allow", **body})


@pytest.mark.parametrize("body, call, verdict", [
    # Action wildcards, case-insensitive.
    ({"Action": "s3:Get*", "Resource": "*"}, Call("s3:GetObject", f"{BUCKET}/k"), "Allow"),
    ({"Action": "S3:getobject", "Resource": "*"}, Call("s3:GetObject", f"{BUCKET}/k"), "Allow"),
    ({"Action": "s3:Get?bject", "Resource": "*"}, Call("s3:GetObject", f"{BUCKET}/k"), "Allow"),
    ({"Action": "s3:Get*", "Resource": "*"}, Call("s3:PutObject", f"{BUCKET}/k"), "ImplicitDeny"),
    # NotAction allows every other action.
    ({"NotAction": "iam:*", "Resource": "*"}, Call("s3:PutObject", f"{BUCKET}/k"), "Allow"),
    ({"NotAction": "iam:*", "Resource": "*"}, Call("iam:PassRole", "arn:aws:iam::1:role/r"),
     "ImplicitDeny"),
    # Resource globs span `/` and `:`, and are case-sensitive.
    ({"Action": "s3:*", "Resource": f"{BUCKET}/*"}, Call("s3:GetObject", f"{BUCKET}/a/b:c"),
     "Allow"),
    ({"Action": "s3:*", "Resource": f"{BUCKET}/*"}, Call("s3:GetObject", BUCKET), "ImplicitDeny"),
    ({"Action": "s3:*", "Resource": "arn:aws:s3:::DATA/*"}, Call("s3:GetObject", f"{BUCKET}/k"),
     "ImplicitDeny"),
    # NotResource.
    ({"Action": "s3:*", "NotResource": f"{BUCKET}/secret/*"},
     Call("s3:GetObject", f"{BUCKET}/public/k"), "Allow"),
    ({"Action": "s3:*", "NotResource": f"{BUCKET}/secret/*"},
     Call("s3:GetObject", f"{BUCKET}/secret/k"), "ImplicitDeny"),
])
def test_actions_and_resources(body, call, verdict):
    assert decide([statement(**body)], call) == verdict


PASS = {"Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/r"}


@pytest.mark.parametrize("condition, context, verdict", [
    ({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
     {"iam:PassedToService": "sagemaker.amazonaws.com"}, "Allow"),
    ({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
     {"iam:PassedToService": "lambda.amazonaws.com"}, "ImplicitDeny"),
    # A condition on a key the request does not have does not hold...
    ({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, {}, "ImplicitDeny"),
    # ...unless it is negated or IfExists.
    ({"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}, {}, "Allow"),
    ({"StringEqualsIfExists": {"iam:PassedToService": "lambda.amazonaws.com"}}, {}, "Allow"),
    # Condition keys are case-insensitive; StringLike has wildcards; a list is any of.
    ({"StringLike": {"S3:Prefix": "proj/*"}}, {"s3:prefix": "proj/data"}, "Allow"),
    ({"StringLike": {"s3:prefix": ["a/*", "proj/*"]}}, {"s3:prefix": "proj/x"}, "Allow"),
    ({"StringLike": {"s3:prefix": "proj/*"}}, {"s3:prefix": "other/x"}, "ImplicitDeny"),
    ({"StringNotLike": {"s3:prefix": "proj/*"}}, {"s3:prefix": "proj/x"}, "ImplicitDeny"),
    ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, {"aws:SourceArn": BUCKET}, "Allow"),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"},
     "ImplicitDeny"),
    # Every condition of the statement must hold.
    ({"StringEquals": {"iam:PassedToService": "s"}, "StringLike": {"k": "v"}},
     {"iam:PassedToService": "s"}, "ImplicitDeny"),
])
def test_conditions(condition, context, verdict):
    call = Call("iam:PassRole", "arn:aws:iam::1:role/r", context)
    assert decide([statement(**PASS, Condition=condition)], call) == verdict


def test_an_explicit_deny_wins_over_any_allow():
    allow = statement(Action="s3:*", Resource="*")
    deny = Statement("deny", {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
                              "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    put = Call("s3:PutObject", f"{BUCKET}/k", {"aws:SecureTransport": "false"})
    assert decide([allow, deny], put) == "ExplicitDeny"
    assert decide([allow, deny], Call("s3:PutObject", f"{BUCKET}/k",
                                      {"aws:SecureTransport": "true"})) == "Allow"


def test_a_permissions_boundary_caps_what_the_policy_allows():
    principal = Principal("r", [statement(Action="sagemaker:*", Resource="*")],
                          boundary=[statement(Action="sagemaker:InvokeEndpoint",
                                              Resource="arn:aws:sagemaker:*:*:endpoint/prod")])
    assert principal.decide(Call("sagemaker:InvokeEndpoint",
                                 "arn:aws:sagemaker:us-east-1:1:endpoint/prod")) == "Allow"
    assert principal.decide(Call("sagemaker:DeleteEndpoint",
                                 "arn:aws:sagemaker:us-east-1:1:endpoint/prod")) == \
        "ImplicitDeny (permissions boundary)"


def test_an_operator_it_does_not_know_is_refused_not_ignored():
    unknown = statement(**PASS, Condition={"DateGreaterThan": {"aws:CurrentTime": "2020"}})
    with pytest.raises(UnsupportedPolicy, match="DateGreaterThan"):
        decide([unknown], Call("iam:PassRole", "arn:aws:iam::1:role/r", {"aws:CurrentTime": "x"}))


TEMPLATE = {
    "Parameters": {"ProjectName": {"Type": "String"}},
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": {"Fn::Sub": "${ProjectName}-data-${AWS::AccountId}"}}},
        "Boundary": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "ManagedPolicyName": "cap", "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}},
        "Shared": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "ManagedPolicyName": "shared", "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": "s3:ListBucket",
                 "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}}]}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": "r", "ManagedPolicyArns": [{"Ref": "Shared"}],
            "PermissionsBoundary": {"Ref": "Boundary"},
            "Policies": [{"PolicyName": "own", "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "sqs:SendMessage"],
                 "Resource": [{"Fn::Sub": "${Bucket.Arn}/${ProjectName}/*"},
                              {"Fn::Sub": ["arn:${AWS::Partition}:sqs:${AWS::Region}:${A}:q",
                                           {"A": {"Ref": "AWS::AccountId"}}]}]}]}}]}},
    },
}


def test_a_role_is_read_as_deployed_with_its_substitutions_resolved():
    stack = Stack(TEMPLATE, {"ProjectName": "proj"}, "proj-stack")
    principal = role(stack, "Role", [stack])
    bucket = "arn:aws:s3:::proj-data-123456789012"
    assert principal.decide(Call("s3:GetObject", f"{bucket}/proj/k")) == "Allow"
    assert principal.decide(Call("s3:GetObject", f"{bucket}/other/k")) == "ImplicitDeny"
    assert principal.decide(Call("s3:ListBucket", bucket)) == "Allow"  # the managed policy
    # Allowed by the role's policy, but not by its boundary.
    assert principal.decide(Call("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q")) == \
        "ImplicitDeny (permissions boundary)"
    assert without(principal, "s3:GetObject").decide(
        Call("s3:GetObject", f"{bucket}/proj/k")) == "ImplicitDeny"
