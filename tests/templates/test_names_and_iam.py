"""Every name fits AWS's limits at the longest ProjectName, and the IAM policies stay narrow."""

from __future__ import annotations

from typing import Any

import pytest

from .templates_kit import (
    ENDPOINT,
    PIPELINE,
    REPO,
    pipeline_actions,
    resources,
    substitute,
    template,
)

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

# Longest region code in use (us-isof-south-1), and a 12-digit account id.
LONGEST_REGION = "us-isof-south-1"
ACCOUNT = "123456789012"
# (resource type, name property) -> AWS's maximum length.
NAME_LIMITS = {
    ("AWS::S3::Bucket", "BucketName"): 63,
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"): 128,
    ("AWS::ECR::Repository", "RepositoryName"): 256,
    ("AWS::CodeBuild::Project", "Name"): 255,
    ("AWS::CodePipeline::Pipeline", "Name"): 100,
    ("AWS::SNS::Topic", "TopicName"): 256,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::SageMaker::Endpoint", "EndpointName"): 63,
    ("AWS::CloudWatch::Alarm", "AlarmName"): 255,
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "PolicyName"): 256,
}
STACK_NAME_LIMIT = 128


def _longest(path, parameter: str) -> str:
    declaration = template(path)["Parameters"][parameter]
    if "AllowedValues" in declaration:
        return max(declaration["AllowedValues"], key=len)
    return "p" * declaration["MaxLength"]


def _names(path, variables: dict[str, str]) -> list[tuple[str, str, int]]:
    found = []
    for (resource_type, prop), limit in NAME_LIMITS.items():
        for logical_id, properties in resources(path, resource_type).items():
            if prop in properties:
                found.append((logical_id, substitute(properties[prop], variables), limit))
    return found


def test_pipeline_names_fit_at_the_longest_project_name():
    variables = {"ProjectName": _longest(PIPELINE, "ProjectName"), "AWS::AccountId": ACCOUNT,
                 "AWS::Region": LONGEST_REGION}
    names = _names(PIPELINE, variables)
    assert len(names) >= 10
    for logical_id, name, limit in names:
        assert "${" not in name and len(name) <= limit, f"{logical_id}: {name}"
    for deploy in pipeline_actions():
        if "StackName" in deploy.configuration:
            assert len(substitute(deploy.configuration["StackName"], variables)) <= STACK_NAME_LIMIT


def test_bucket_name_is_the_binding_budget():
    """ProjectName's MaxLength is as long as the artifact bucket name allows, and no longer."""
    longest = _longest(PIPELINE, "ProjectName")
    (bucket,) = resources(PIPELINE, "AWS::S3::Bucket").values()
    name = substitute(bucket["BucketName"], {"ProjectName": longest, "AWS::AccountId": ACCOUNT,
                                             "AWS::Region": LONGEST_REGION})
    assert len(name) == 63


def test_endpoint_names_fit_and_accept_every_pipeline_project_name():
    variables = {"ProjectName": _longest(ENDPOINT, "ProjectName"),
                 "StageName": _longest(ENDPOINT, "StageName")}
    names = _names(ENDPOINT, variables)
    assert {logical_id for logical_id, _, _ in names} >= {"Endpoint", "ModelLatencyAlarm"}
    for logical_id, name, limit in names:
        assert "${" not in name and len(name) <= limit, f"{logical_id}: {name}"
    pipeline_project = template(PIPELINE)["Parameters"]["ProjectName"]
    endpoint_project = template(ENDPOINT)["Parameters"]["ProjectName"]
    assert pipeline_project["AllowedPattern"] == endpoint_project["AllowedPattern"]
    assert pipeline_project["MaxLength"] <= endpoint_project["MaxLength"]


def _roles() -> dict[str, dict[str, Any]]:
    return resources(PIPELINE, "AWS::IAM::Role")


def _statements() -> list[tuple[str, dict[str, Any]]]:
    inline = [(f"{role}/{policy['PolicyName']}/{statement.get('Sid', '?')}", statement)
              for role, properties in _roles().items()
              for policy in properties.get("Policies", [])
              for statement in policy["PolicyDocument"]["Statement"]]
    managed = [(f"{name}/{statement.get('Sid', '?')}", statement)
               for name, properties in resources(PIPELINE, "AWS::IAM::ManagedPolicy").items()
               for statement in properties["PolicyDocument"]["Statement"]]
    return inline + managed


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_one_role_per_service_and_per_build_project():
    """A build runs with only its own project's permissions: the unit tests, which run the
    repository's test code, cannot push images, pass roles or write artifacts."""
    trusted = {name: [statement["Principal"]["Service"]
                      for statement in properties["AssumeRolePolicyDocument"]["Statement"]]
               for name, properties in _roles().items()}
    assert all(len(services) == 1 for services in trusted.values()), trusted
    others = sorted(s for (s,) in trusted.values() if s != "codebuild.amazonaws.com")
    assert others == ["cloudformation.amazonaws.com", "codepipeline.amazonaws.com",
                      "sagemaker.amazonaws.com"]
    build_roles = {name for name, (service,) in trusted.items()
                   if service == "codebuild.amazonaws.com"}
    projects = resources(PIPELINE, "AWS::CodeBuild::Project")
    used = [properties["ServiceRole"]["Fn::GetAtt"][0] for properties in projects.values()]
    assert sorted(used) == sorted(build_roles), "one role per project, each used once"


@pytest.mark.parametrize("where, statement", _statements(), ids=[w for w, _ in _statements()])
def test_statement_is_narrow(where: str, statement: dict[str, Any]):
    assert statement["Effect"] == "Allow", where
    assert "NotAction" not in statement and "NotResource" not in statement, where
    actions = _as_list(statement["Action"])
    assert all(action != "*" and not action.endswith(":*") for action in actions), where
    if any(action.startswith("s3:") for action in actions):
        assert "*" not in _as_list(statement["Resource"]), where


def test_pass_role_names_the_role_and_the_service_that_trusts_it():
    roles = _roles()
    passes = [(where, s) for where, s in _statements() if "iam:PassRole" in _as_list(s["Action"])]
    assert len(passes) == 6
    # Roles the pipeline's stacks create, which CloudFormation names after the stack: the API's
    # and the batch-inference functions' roles (passed to Lambda) and the training state
    # machine's (to Step Functions).
    stack_roles = {":role/${ProjectName}-api-*": "lambda.amazonaws.com",
                   ":role/${ProjectName}-batch-inference-*": "lambda.amazonaws.com",
                   ":role/${ProjectName}-training-*": "states.amazonaws.com"}
    for where, statement in passes:
        assert _as_list(statement["Action"]) == ["iam:PassRole"], where
        service = statement["Condition"]["StringEquals"]["iam:PassedToService"]
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", where
            if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                passed_role = roles[resource["Fn::GetAtt"][0]]
                trusted = [s["Principal"]["Service"]
                           for s in passed_role["AssumeRolePolicyDocument"]["Statement"]]
                assert trusted == [service], where
            else:
                (suffix,) = [s for s in stack_roles if substitute(resource, {}).endswith(s)]
                assert service == stack_roles[suffix], where


def test_the_training_stack_names_fit_at_the_longest_project_name():
    """The stack <P>-training names its state machine after itself (at most 80 characters),
    and CloudFormation names its role <stack>-<logical id>-<up to 13 characters> (at most 64):
    the CloudFormation role may create and pass only roles named <P>-training-*."""
    longest = _longest(PIPELINE, "ProjectName")
    (deploy,) = [a for a in pipeline_actions() if a.name == "DeployTrainingWorkflow"]
    stack = substitute(deploy.configuration["StackName"], {"ProjectName": longest})
    assert len(stack) <= 80
    body = template(REPO / "workflows" / "templates" / "titanic_train.yaml")
    (role,) = [name for name, r in body["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    assert "RoleName" not in body["Resources"][role]["Properties"]
    assert len(f"{stack}-{role}-{'X' * 13}") <= 64


def test_the_batch_inference_role_names_keep_the_stack_name():
    """CloudFormation names a role <stack>-<logical id>-<up to 13 characters> and, past 64
    characters, shortens the logical id, not the stack name (for example
    `MyStackDev-MyNestedApplicatio-MyLambdaFunctionName-1U44TLUZ7OR55`): the CloudFormation
    role may create and pass only roles named <P>-batch-inference-*, so that prefix must fit
    with room for the suffix at the longest ProjectName."""
    longest = _longest(PIPELINE, "ProjectName")
    (deploy,) = [a for a in pipeline_actions() if a.name == "DeployBatchInference"]
    stack = substitute(deploy.configuration["StackName"], {"ProjectName": longest})
    body = template(REPO / "CloudFormation" / "batch-inference.yaml")
    roles = [name for name, r in body["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    assert roles and all("RoleName" not in body["Resources"][r]["Properties"] for r in roles)
    assert len(f"{stack}-X-{'X' * 13}") <= 64
