"""Planted defects: each turns a copy of a real template into one that breaks one policy.

A plant edits the template as cfn-lint reads it (rules.load) and names what must notice it:
the policy rule of rules.RULES, and the cfn-lint rules or checkov checks that also see that
kind of defect (none for the project's own release policies, which no generic tool knows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .rules_kit import Template

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Plant:
    name: str
    template: str  # "pipeline", "endpoint", "batch-inference" or "api" (the packaged Chalice one)
    edit: Callable[[Template], None]
    rule: str
    cfn_lint: frozenset[str] = frozenset()
    checkov: frozenset[str] = frozenset()
    says: str = ""  # in the rule's message: which of its branches must see the defect


def _properties(template: Template, logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id]["Properties"]


def _action(template: Template, name: str) -> dict[str, Any]:
    (found,) = [action for stage in _properties(template, "Pipeline")["Stages"]
                for action in stage["Actions"] if action["Name"] == name]
    return found


def _statement(template: Template, role: str, sid: str) -> dict[str, Any]:
    (found,) = [statement for policy in _properties(template, role)["Policies"]
                for statement in policy["PolicyDocument"]["Statement"]
                if statement.get("Sid") == sid]
    return found


def github_v1_source(template: Template) -> None:
    source = _action(template, "Source")
    source["ActionTypeId"] = {"Category": "Source", "Owner": "ThirdParty", "Provider": "GitHub",
                              "Version": "1"}
    source["Configuration"] = {
        "Owner": "example-org", "Repo": "sagepipe", "Branch": {"Ref": "BranchName"},
        "OAuthToken": "{{resolve:secretsmanager:github-token:SecretString:token}}",
        "PollForSourceChanges": False}
    del _properties(template, "Pipeline")["Triggers"]  # V2 triggers need a connection source


def old_codebuild_image(template: Template) -> None:
    _properties(template, "TrainProject")["Environment"]["Image"] = "aws/codebuild/standard:4.0"


def old_lambda_runtime_in_pipeline(template: Template) -> None:
    """A custom-resource function added to the pipeline stack, on a retired runtime."""
    template["Resources"]["CleanupFunction"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.8", "Handler": "index.handler", "Timeout": 60,
            "Role": {"Fn::GetAtt": ["UnitTestsRole", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return None\n"}}}


def old_lambda_runtime_in_api(template: Template) -> None:
    _properties(template, "APIHandler")["Runtime"] = "python3.8"


def pass_role_on_every_role(template: Template) -> None:
    statement = _statement(template, "PipelineRole", "PassDeployRoleToCloudFormation")
    statement["Resource"] = "*"
    del statement["Condition"]


def pass_role_to_any_service(template: Template) -> None:
    del _statement(template, "CloudFormationRole", "PassTrainingRoleToStepFunctions")["Condition"]


def allow_all_but_iam(template: Template) -> None:
    _properties(template, "SmokeTestsRole")["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*",
         "Resource": {"Fn::GetAtt": ["ArtifactBucket", "Arn"]}})


def github_webhook(template: Template) -> None:
    template["Resources"]["SourceWebhook"] = {
        "Type": "AWS::CodePipeline::Webhook",
        "Properties": {
            "Authentication": "GITHUB_HMAC",
            "AuthenticationConfiguration": {
                "SecretToken": "{{resolve:secretsmanager:github-webhook:SecretString:token}}"},
            "Filters": [{"JsonPath": "$.ref", "MatchEquals": "refs/heads/{Branch}"}],
            "TargetPipeline": {"Ref": "Pipeline"}, "TargetAction": "Source",
            "TargetPipelineVersion": 1, "RegisterWithThirdParty": False}}


def public_read_acl(template: Template) -> None:
    _properties(template, "ArtifactBucket")["AccessControl"] = "PublicRead"


def retained_bucket_name(template: Template) -> None:
    template["Resources"]["ArtifactBucket"]["DeletionPolicy"] = "Retain"


def role_without_boundary(template: Template) -> None:
    del _statement(template, "CloudFormationRole", "ApiFunctionRoleWithinBoundary")["Condition"]


def attach_managed_policies(template: Template) -> None:
    _statement(template, "CloudFormationRole", "StackRoles")["Action"] += [
        "iam:AttachRolePolicy", "iam:DetachRolePolicy"]


def allow_everything(template: Template) -> None:
    _properties(template, "UnitTestsRole").setdefault("Policies", []).append(
        {"PolicyName": "everything", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}]}})


def s3_on_every_bucket(template: Template) -> None:
    statement = _statement(template, "TrainRole", "WriteDataAndReleaseBundle")
    statement["Action"], statement["Resource"] = "s3:*", "*"


def unencrypted_bucket(template: Template) -> None:
    del _properties(template, "ArtifactBucket")["BucketEncryption"]


def unencrypted_topic(template: Template) -> None:
    del _properties(template, "ApprovalTopic")["KmsMasterKeyId"]


def public_bucket(template: Template) -> None:
    block = _properties(template, "ArtifactBucket")["PublicAccessBlockConfiguration"]
    for setting in block:
        block[setting] = False


def generated_endpoint_name(template: Template) -> None:
    del _properties(template, "Endpoint")["EndpointName"]


def endpoint_name_of_the_stack(template: Template) -> None:
    _properties(template, "Endpoint")["EndpointName"] = {"Fn::Sub": "${AWS::StackName}-endpoint"}


def timestamped_endpoint_name(template: Template) -> None:
    template["Parameters"]["DeployedAt"] = {
        "Type": "String", "Description": "Deployment time, YYYYmmdd-HHMMSS.",
        "AllowedPattern": "^[0-9]{8}-[0-9]{6}$"}
    _properties(template, "Endpoint")["EndpointName"] = {
        "Fn::Sub": "${ProjectName}-${StageName}-${DeployedAt}"}


def prod_replaced_on_failure(template: Template) -> None:
    _action(template, "DeployProd")["Configuration"]["ActionMode"] = "REPLACE_ON_FAILURE"


def inline_buildspec(template: Template) -> None:
    source = _properties(template, "TrainProject")["Source"]
    source["BuildSpec"] = (REPO / source["BuildSpec"]).read_text()


def plain_http_allowed(template: Template) -> None:
    statements = _properties(template, "InputBucketPolicy")["PolicyDocument"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "DenyInsecureTransport"]
    del template["Resources"]["InputBucketPolicy"]  # and with nothing left, no policy at all


def tls_only_for_the_bucket_alone(template: Template) -> None:
    (statement,) = [s for s in _properties(template, "OutputBucketPolicy")["PolicyDocument"][
        "Statement"] if s.get("Sid") == "DenyInsecureTransport"]
    statement["Resource"] = {"Fn::GetAtt": ["OutputBucket", "Arn"]}


def any_bucket_may_invoke(template: Template) -> None:
    del _properties(template, "InputBucketInvokesScoring")["SourceArn"]


def any_account_may_invoke(template: Template) -> None:
    del _properties(template, "InputBucketInvokesScoring")["SourceAccount"]


def failed_events_dropped(template: Template) -> None:
    del template["Resources"]["ScoringEventInvokeConfig"]
    statements = _properties(template, "ScoringRole")["Policies"][0]["PolicyDocument"]
    statements["Statement"] = [s for s in statements["Statement"]
                               if s.get("Sid") != "SendFailedEventsToTheirFunction"]


def errors_unwatched(template: Template) -> None:
    del template["Resources"]["ScoringErrorsAlarm"]


def pass_any_role_to_transform_jobs(template: Template) -> None:
    statement = _statement(template, "ScoringRole", "PassTheModelsRoleToTransformJobs")
    statement["Resource"] = "*"


def public_output_bucket(template: Template) -> None:
    block = _properties(template, "OutputBucket")["PublicAccessBlockConfiguration"]
    for setting in block:
        block[setting] = False


def old_scoring_runtime(template: Template) -> None:
    _properties(template, "ScoringFunction")["Runtime"] = "python3.8"


PLANTS = (
    Plant("github-v1-source", "pipeline", github_v1_source, "github-v1-source",
          says="GitHub version 1 source"),
    Plant("github-webhook", "pipeline", github_webhook, "github-v1-source", says="webhooks"),
    Plant("codebuild-standard-4.0", "pipeline", old_codebuild_image, "codebuild-image"),
    # W2531: deprecated Lambda runtime.
    Plant("lambda-python3.8-in-pipeline", "pipeline", old_lambda_runtime_in_pipeline,
          "lambda-runtime", cfn_lint=frozenset({"W2531"})),
    Plant("lambda-python3.8-in-api", "api", old_lambda_runtime_in_api, "lambda-runtime",
          cfn_lint=frozenset({"W2531"})),
    # CKV_AWS_109: permissions management (here PassRole) without constraints.
    Plant("pass-role-on-every-role", "pipeline", pass_role_on_every_role, "pass-role",
          checkov=frozenset({"CKV_AWS_109"}), says="on every role"),
    Plant("pass-role-to-any-service", "pipeline", pass_role_to_any_service, "pass-role",
          says="without an iam:PassedToService condition"),
    # CKV_AWS_62: full "*-*" administrative privileges.
    Plant("action-star", "pipeline", allow_everything, "wildcard-action",
          checkov=frozenset({"CKV_AWS_62"}), says='Action "*"'),
    Plant("allow-not-action", "pipeline", allow_all_but_iam, "wildcard-action",
          says="NotAction"),
    # CKV_AWS_108: data exfiltration (s3:GetObject) without constraints.
    Plant("s3-star-on-star", "pipeline", s3_on_every_bucket, "service-wildcard",
          checkov=frozenset({"CKV_AWS_108"})),
    # checkov 3 takes S3's default encryption (SSE-S3 since 2023) as enough: rules.py does not.
    Plant("bucket-without-encryption", "pipeline", unencrypted_bucket, "bucket-encryption"),
    # CKV_AWS_26: SNS topic not encrypted.
    Plant("topic-without-kms", "pipeline", unencrypted_topic, "topic-encryption",
          checkov=frozenset({"CKV_AWS_26"})),
    # CKV_AWS_53..56: each of the four public access block settings.
    Plant("public-access-block-off", "pipeline", public_bucket, "public-bucket",
          checkov=frozenset({"CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"}),
          says="PublicAccessBlockConfiguration"),
    # CKV_AWS_20: an ACL that allows public READ access.
    Plant("public-read-acl", "pipeline", public_read_acl, "public-bucket",
          checkov=frozenset({"CKV_AWS_20"}), says="canned ACL PublicRead"),
    Plant("retained-bucket-name", "pipeline", retained_bucket_name, "named-retain"),
    Plant("role-without-boundary", "pipeline", role_without_boundary, "role-boundary",
          says="iam:CreateRole, iam:PutRolePolicy"),
    Plant("attach-managed-policies", "pipeline", attach_managed_policies, "role-boundary",
          says="iam:AttachRolePolicy"),
    Plant("endpoint-name-generated", "endpoint", generated_endpoint_name, "endpoint-name"),
    Plant("endpoint-name-of-the-stack", "endpoint", endpoint_name_of_the_stack, "endpoint-name"),
    Plant("endpoint-name-timestamped", "endpoint", timestamped_endpoint_name, "endpoint-name"),
    Plant("prod-replace-on-failure", "pipeline", prod_replaced_on_failure, "prod-deploy-mode"),
    Plant("inline-buildspec", "pipeline", inline_buildspec, "inline-buildspec"),
    Plant("plain-http-to-the-input-bucket", "batch-inference", plain_http_allowed,
          "tls-only-bucket", says="InputBucket: no bucket policy"),
    Plant("tls-only-for-the-bucket-alone", "batch-inference", tls_only_for_the_bucket_alone,
          "tls-only-bucket", says="leaves the bucket's objects out"),
    Plant("any-bucket-may-invoke", "batch-inference", any_bucket_may_invoke,
          "service-invoke-scope", says="without a SourceArn"),
    Plant("any-account-may-invoke", "batch-inference", any_account_may_invoke,
          "service-invoke-scope", says="without a SourceAccount"),
    # CKV_AWS_116 is skipped on the function (its destination is an EventInvokeConfig, which
    # checkov does not know), so only the policy rule can see the destination go.
    Plant("failed-events-dropped", "batch-inference", failed_events_dropped,
          "failed-event-destination"),
    Plant("errors-unwatched", "batch-inference", errors_unwatched, "function-error-alarm"),
    # The iam:PassedToService condition stays: checkov takes any condition as a constraint
    # (CKV_AWS_109 passes), so only the policy rule sees that every role may be passed.
    Plant("pass-any-role-to-transform-jobs", "batch-inference", pass_any_role_to_transform_jobs,
          "pass-role", says="on every role"),
    Plant("public-output-bucket", "batch-inference", public_output_bucket, "public-bucket",
          checkov=frozenset({"CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"})),
    Plant("scoring-on-python3.8", "batch-inference", old_scoring_runtime, "lambda-runtime",
          cfn_lint=frozenset({"W2531"})),
)
