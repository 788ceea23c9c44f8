"""The project's security and release policies for CloudFormation templates, as plain functions.

`violations(template)` returns one message per breach, each starting with the rule's name
(`"<rule>: <where>: <what>"`), and nothing when the template complies. A template is read as
cfn-lint reads it (`load`, tests/templates/templates_kit.py's reader): intrinsic functions in
long form, `{"Fn::Sub": ...}`.

The same functions check the real templates (test_rules.py: no violation) and copies of them
with one planted defect each (test_planted.py: the defect is named), so a rule that stops
seeing what it is for fails the suite. `template_size` reads the file itself, not the template
it holds: its limit is on the bytes sent to CloudFormation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from templates.templates_kit import SUB_VARIABLE, template

Template = dict[str, Any]

# Current CodeBuild images (Amazon Linux 2023 based, or Ubuntu 22.04 for standard:7.0).
CURRENT_CODEBUILD_IMAGES = frozenset({
    "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
    "aws/codebuild/amazonlinux2-aarch64-standard:3.0",
    "aws/codebuild/standard:7.0",
})
OLDEST_PYTHON_RUNTIME = (3, 12)
# Parts an endpoint name may be made of: anything else (a stack name, a commit, a timestamp,
# a generated name) changes per deployment and breaks the callers that invoke it by name.
STABLE_NAME_PARTS = frozenset({"ProjectName", "StageName"})
SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
PUBLIC_ACCESS_BLOCK = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                       "RestrictPublicBuckets")
PUBLIC_CANNED_ACLS = frozenset({"PublicRead", "PublicReadWrite", "AuthenticatedRead"})
PYTHON_RUNTIME = re.compile(r"python(\d+)\.(\d+)")
# Name properties: a resource that sets one cannot be created twice under that name.
NAME_PROPERTIES = frozenset({"BucketName", "RepositoryName", "RoleName", "TopicName",
                             "LogGroupName", "ManagedPolicyName", "EndpointName", "Name"})
# IAM actions that give a role permissions: allowed only with a permissions boundary condition.
ROLE_GRANTS = ("iam:createrole", "iam:putrolepolicy", "iam:attachrolepolicy",
               "iam:putrolepermissionsboundary")
# CreateStack and UpdateStack take at most 51,200 bytes of TemplateBody (`aws cloudformation
# create-stack --template-body file://...`, as the README deploys pipeline.yaml); a bigger
# template must be uploaded to S3 and passed as TemplateURL. Past the warning size, the next
# addition may not fit: move reasons into the docs before it does.
TEMPLATE_BODY_LIMIT = 51_200
TEMPLATE_BODY_WARNING = 46_000
# Where the project keeps the templates it deploys (endpoint.yaml's stage configurations and the
# buildspecs are there too, and are not templates: a template has Resources).
TEMPLATE_FOLDERS = ("CodePipeline", "CloudFormation", "workflows/templates")


def load(path: Path) -> Template:
    """A YAML or JSON template as cfn-lint reads it (read once per path, then shared)."""
    return template(path)


# ----------------------------------------------------------------------------- template access
def _resources(template: Template, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") in types:
            yield name, resource.get("Properties", {})


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    """The text of a literal or a `Fn::Sub` string; None for any other intrinsic function."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM policy statement of identity and resource policies, with where it is."""
    for name, props in _resources(template, "AWS::IAM::Role", "AWS::IAM::User",
                                  "AWS::IAM::Group"):
        for policy in props.get("Policies", []):
            yield from _document(f"{name}/{policy.get('PolicyName', '?')}",
                                 policy.get("PolicyDocument"))
    for name, props in _resources(template, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy",
                                  "AWS::IAM::RolePolicy", "AWS::S3::BucketPolicy",
                                  "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
        yield from _document(name, props.get("PolicyDocument"))
    for name, props in _resources(template, "AWS::Serverless::Function"):
        for policy in as_list(props.get("Policies", [])):
            yield from _document(name, policy)


def _document(where: str, document: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(document, dict):  # a managed policy's name or a SAM policy template
        return
    for index, statement in enumerate(as_list(document.get("Statement", []))):
        yield f"{where}/{statement.get('Sid') or index}", statement


def _allowed_actions(statement: dict[str, Any]) -> list[str]:
    if statement.get("Effect") != "Allow":
        return []
    return [action for action in as_list(statement.get("Action", [])) if isinstance(action, str)]


def _pipeline_actions(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stage name, action name, action) of every CodePipeline pipeline in the template."""
    for _, props in _resources(template, "AWS::CodePipeline::Pipeline"):
        for stage in props.get("Stages", []):
            for action in stage.get("Actions", []):
                yield stage.get("Name", "?"), action.get("Name", "?"), action


# ----------------------------------------------------------------------------- rules
def github_v1_source(template: Template) -> Iterator[str]:
    """Sources go through CodeConnections, never GitHub version 1 (OAuth token, webhooks)."""
    for stage, name, action in _pipeline_actions(template):
        type_id = action.get("ActionTypeId", {})
        if type_id.get("Provider") == "GitHub" or type_id.get("Owner") == "ThirdParty":
            yield f"{stage}/{name}: a {type_id.get('Owner')}/{type_id.get('Provider')} action is " \
                  "the GitHub version 1 source; use CodeStarSourceConnection"
        if "OAuthToken" in action.get("Configuration", {}):
            yield f"{stage}/{name}: OAuthToken is GitHub version 1; use a CodeConnections " \
                  "connection"
    for name, _ in _resources(template, "AWS::CodePipeline::Webhook"):
        yield f"{name}: pipeline webhooks serve GitHub version 1 sources; use pipeline triggers"


def codebuild_image(template: Template) -> Iterator[str]:
    """Builds run on a current CodeBuild image."""
    for name, props in _resources(template, "AWS::CodeBuild::Project"):
        image = props.get("Environment", {}).get("Image")
        if image not in CURRENT_CODEBUILD_IMAGES:
            yield f"{name}: image {image!r} is not a current CodeBuild image " \
                  f"({', '.join(sorted(CURRENT_CODEBUILD_IMAGES))})"


def lambda_runtime(template: Template) -> Iterator[str]:
    """Functions run on python3.12 or later."""
    default = template.get("Globals", {}).get("Function", {}).get("Runtime")
    for name, props in _resources(template, "AWS::Lambda::Function", "AWS::Serverless::Function"):
        if props.get("PackageType") == "Image":
            continue
        runtime = props.get("Runtime", default)
        match = PYTHON_RUNTIME.fullmatch(runtime) if isinstance(runtime, str) else None
        if match is None or tuple(map(int, match.groups())) < OLDEST_PYTHON_RUNTIME:
            yield f"{name}: runtime {runtime!r} is not python" \
                  f"{'.'.join(map(str, OLDEST_PYTHON_RUNTIME))} or later"


def pass_role(template: Template) -> Iterator[str]:
    """iam:PassRole names the roles it passes and the service they are passed to."""
    for where, statement in statements(template):
        if not any(fnmatchcase("iam:passrole", action.lower())
                   for action in _allowed_actions(statement) if action.lower().startswith("iam:")):
            continue
        resources = [_text(r) for r in as_list(statement.get("Resource", "*"))]
        if any(r is not None and (r == "*" or r.endswith(":role/*")) for r in resources):
            yield f"{where}: iam:PassRole on every role; name the role"
        conditions = [key.lower() for operator in statement.get("Condition", {}).values()
                      for key in operator]
        if "iam:passedtoservice" not in conditions:
            yield f"{where}: iam:PassRole without an iam:PassedToService condition"


def wildcard_action(template: Template) -> Iterator[str]:
    """No statement allows every action."""
    for where, statement in statements(template):
        if "*" in _allowed_actions(statement):
            yield f"{where}: Action \"*\" allows everything"
        if statement.get("Effect") == "Allow" and "NotAction" in statement:
            yield f"{where}: an Allow with NotAction allows everything else"


def service_wildcard(template: Template) -> Iterator[str]:
    """No statement allows a whole service (such as s3:*) on every resource."""
    for where, statement in statements(template):
        whole = [a for a in _allowed_actions(statement) if a != "*" and a.endswith(":*")]
        if whole and "*" in as_list(statement.get("Resource", "*")):
            yield f"{where}: {', '.join(whole)} on Resource \"*\""


def bucket_encryption(template: Template) -> Iterator[str]:
    """Buckets declare default encryption."""
    for name, props in _resources(template, "AWS::S3::Bucket"):
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        algorithms = [rule.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
                      for rule in rules]
        if not algorithms or not set(algorithms) <= SSE_ALGORITHMS:
            yield f"{name}: no default encryption (BucketEncryption with an SSEAlgorithm)"


def topic_encryption(template: Template) -> Iterator[str]:
    """SNS topics are encrypted with KMS."""
    for name, props in _resources(template, "AWS::SNS::Topic"):
        if not props.get("KmsMasterKeyId"):
            yield f"{name}: no KmsMasterKeyId, the topic's messages are not encrypted at rest"


def public_bucket(template: Template) -> Iterator[str]:
    """Buckets block every kind of public access."""
    for name, props in _resources(template, "AWS::S3::Bucket"):
        block = props.get("PublicAccessBlockConfiguration", {})
        open_settings = [key for key in PUBLIC_ACCESS_BLOCK if not _is_true(block.get(key))]
        if open_settings:
            yield f"{name}: PublicAccessBlockConfiguration leaves {', '.join(open_settings)} off"
        if props.get("AccessControl") in PUBLIC_CANNED_ACLS:
            yield f"{name}: canned ACL {props['AccessControl']} makes objects public"


def endpoint_name(template: Template) -> Iterator[str]:
    """Endpoints have a stable name made of ProjectName and StageName only."""
    for name, props in _resources(template, "AWS::SageMaker::Endpoint"):
        value = props.get("EndpointName")
        sub = value.get("Fn::Sub") if isinstance(value, dict) else None
        text = _text(value)
        if value is None:
            yield f"{name}: no EndpointName, CloudFormation generates a new name per stack"
        elif text is None or isinstance(sub, list):
            yield f"{name}: EndpointName must be a literal or a plain !Sub of " \
                  f"{', '.join(sorted(STABLE_NAME_PARTS))}"
        elif unstable := sorted(set(SUB_VARIABLE.findall(text)) - STABLE_NAME_PARTS):
            yield f"{name}: EndpointName {text!r} changes with {', '.join(unstable)}"


def prod_deploy_mode(template: Template) -> Iterator[str]:
    """Prod stacks are updated in place (CREATE_UPDATE), never deleted and re-created."""
    for stage, name, action in _pipeline_actions(template):
        config = action.get("Configuration", {})
        if action.get("ActionTypeId", {}).get("Provider") != "CloudFormation" \
                or "TemplatePath" not in config:
            continue
        targets = " ".join(str(_text(config.get(key)) or "")
                           for key in ("StackName", "TemplateConfiguration"))
        is_prod = stage.lower() == "prod" or "prod" in targets.lower()
        if is_prod and config.get("ActionMode") != "CREATE_UPDATE":
            yield f"{stage}/{name}: ActionMode {config.get('ActionMode')} on a prod stack; " \
                  "use CREATE_UPDATE"


def named_retain(template: Template) -> Iterator[str]:
    """A resource with a fixed name is not kept when the create that made it rolls back:
    DeletionPolicy RetainExceptOnCreate, else a retried first create collides on the name."""
    for name, resource in template.get("Resources", {}).items():
        named = NAME_PROPERTIES & set(resource.get("Properties", {}))
        if resource.get("DeletionPolicy") == "Retain" and named:
            yield f"{name}: DeletionPolicy Retain with a fixed {sorted(named)[0]}; use " \
                  "RetainExceptOnCreate, or a failed first create blocks the retry"


def role_boundary(template: Template) -> Iterator[str]:
    """Whoever may create roles or give them policies does so under a permissions boundary
    (an iam:PermissionsBoundary condition), so no template edit grants more than it."""
    for where, statement in statements(template):
        granted = [a for a in _allowed_actions(statement) if a.lower().startswith("iam:")
                   and any(fnmatchcase(grant, a.lower()) for grant in ROLE_GRANTS)]
        conditions = [key.lower() for operator in statement.get("Condition", {}).values()
                      for key in operator]
        if granted and "iam:permissionsboundary" not in conditions:
            yield f"{where}: {', '.join(granted)} without an iam:PermissionsBoundary condition"


def inline_buildspec(template: Template) -> Iterator[str]:
    """Buildspecs are files in the repository, next to what they run."""
    for name, props in _resources(template, "AWS::CodeBuild::Project"):
        sources = [props.get("Source", {}), *props.get("SecondarySources", [])]
        for source in sources:
            if "BuildSpec" not in source:
                continue
            text = _text(source["BuildSpec"])
            if text is None or "\n" in text or "version:" in text:
                yield f"{name}: inline BuildSpec; name a buildspec file instead"


def _refers_to(value: Any, logical_id: str) -> bool:
    """Whether `value` is `Ref` or `Fn::GetAtt` of the resource `logical_id`."""
    if not isinstance(value, dict):
        return False
    target = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]
    return target == logical_id


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    return statement.get("Effect") == "Deny" and any(
        str(value).lower() == "false"
        for operator, keys in statement.get("Condition", {}).items() if operator == "Bool"
        for key, value in keys.items() if key.lower() == "aws:securetransport")


def tls_only_bucket(template: Template) -> Iterator[str]:
    """Every bucket's policy denies requests that do not use TLS, on the bucket and its
    objects."""
    policies = list(_resources(template, "AWS::S3::BucketPolicy"))
    for name, _ in _resources(template, "AWS::S3::Bucket"):
        denials = [statement for _, props in policies if _refers_to(props.get("Bucket"), name)
                   for statement in as_list(props.get("PolicyDocument", {}).get("Statement", []))
                   if _denies_plain_http(statement)]
        covered = {str(_text(r) or r) for s in denials for r in as_list(s.get("Resource", []))}
        if not denials:
            yield f"{name}: no bucket policy denies aws:SecureTransport false (plain HTTP)"
        elif not any(r.endswith("/*") for r in covered):
            yield f"{name}: the TLS-only statement leaves the bucket's objects out"


def service_invoke_scope(template: Template) -> Iterator[str]:
    """A function that an AWS service may invoke names the resource that invokes it, and the
    account where that resource's ARN has none (an S3 bucket's): otherwise any account's
    bucket or topic could invoke it (the confused deputy)."""
    for name, props in _resources(template, "AWS::Lambda::Permission"):
        principal = _text(props.get("Principal")) or ""
        if not principal.endswith(".amazonaws.com"):
            continue
        if "SourceArn" not in props:
            yield f"{name}: {principal} may invoke the function without a SourceArn"
        if principal == "s3.amazonaws.com" and "SourceAccount" not in props:
            yield f"{name}: s3.amazonaws.com may invoke the function without a SourceAccount " \
                  "(bucket ARNs name no account)"


def _notified_functions(template: Template) -> Iterator[tuple[str, str]]:
    """(bucket, function logical id) of every bucket notification to a function."""
    functions = {name for name, _ in _resources(template, "AWS::Lambda::Function",
                                                "AWS::Serverless::Function")}
    for bucket, props in _resources(template, "AWS::S3::Bucket"):
        notifications = props.get("NotificationConfiguration", {})
        for entry in notifications.get("LambdaConfigurations", []):
            for function in functions:
                if _refers_to(entry.get("Function"), function):
                    yield bucket, function


def failed_event_destination(template: Template) -> Iterator[str]:
    """A function S3 invokes asynchronously sends the events it fails on somewhere (an
    on-failure destination or a dead-letter queue), not to oblivion after Lambda's retries."""
    configs = [props for _, props in _resources(template, "AWS::Lambda::EventInvokeConfig")]
    for bucket, function in _notified_functions(template):
        props = template["Resources"][function].get("Properties", {})
        has_destination = any(
            _refers_to(config.get("FunctionName"), function)
            and config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            for config in configs)
        if not has_destination and not props.get("DeadLetterConfig"):
            yield f"{function}: {bucket} invokes it asynchronously and its failed events have " \
                  "no on-failure destination (EventInvokeConfig) or dead-letter queue"


def function_error_alarm(template: Template) -> Iterator[str]:
    """A function S3 invokes asynchronously has an alarm on its Errors: nobody is waiting
    for its answer."""
    alarmed = {dimension.get("Value", {}).get("Ref")
               for _, props in _resources(template, "AWS::CloudWatch::Alarm")
               if props.get("Namespace") == "AWS/Lambda" and props.get("MetricName") == "Errors"
               for dimension in props.get("Dimensions", [])
               if dimension.get("Name") == "FunctionName"
               and isinstance(dimension.get("Value"), dict)}
    for bucket, function in _notified_functions(template):
        if function not in alarmed:
            yield f"{function}: {bucket} invokes it asynchronously and no alarm watches its " \
                  "Errors"


RULES: dict[str, Callable[[Template], Iterator[str]]] = {
    rule.__name__.replace("_", "-"): rule
    for rule in (github_v1_source, codebuild_image, lambda_runtime, pass_role, wildcard_action,
                 service_wildcard, bucket_encryption, topic_encryption, public_bucket,
                 endpoint_name, prod_deploy_mode, named_retain, role_boundary,
                 inline_buildspec, tls_only_bucket, service_invoke_scope,
                 failed_event_destination, function_error_alarm)
}


class TemplateNearSizeLimit(UserWarning):
    """A template within TEMPLATE_BODY_WARNING bytes of CloudFormation's TemplateBody limit."""


def deployable_templates(repo: Path) -> list[Path]:
    """Every CloudFormation template under TEMPLATE_FOLDERS."""
    found = []
    for folder in TEMPLATE_FOLDERS:
        for path in sorted((repo / folder).rglob("*")):
            if path.suffix in (".yaml", ".yml", ".json", ".template") and \
                    isinstance(load(path).get("Resources"), dict):
                found.append(path)
    return found


def template_size(path: Path) -> Iterator[str]:
    """A template fits CloudFormation's TemplateBody (TEMPLATE_BODY_LIMIT bytes)."""
    size = path.stat().st_size
    if size > TEMPLATE_BODY_LIMIT:
        yield f"template-size: {path.name}: {size:,} bytes, over the {TEMPLATE_BODY_LIMIT:,} " \
              "CloudFormation takes as TemplateBody (create-stack --template-body, the console's " \
              "upload): move comments and reasons into the docs, or split the stack"


def template_size_warnings(path: Path) -> Iterator[str]:
    """A template close to the limit: the next addition may not fit."""
    size = path.stat().st_size
    if TEMPLATE_BODY_WARNING < size <= TEMPLATE_BODY_LIMIT:
        yield f"template-size: {path.name}: {size:,} bytes, {TEMPLATE_BODY_LIMIT - size:,} " \
              f"under CloudFormation's TemplateBody limit of {TEMPLATE_BODY_LIMIT:,}: make " \
              "room (reasons into the docs) before the next addition"


class InstanceTypeChange(UserWarning):
    """prod.json changes the instance type of an endpoint registered with auto scaling."""


def instance_type_change(previous: dict[str, Any], current: dict[str, Any]) -> Iterator[str]:
    """A stage configuration that changes InstanceType while the deployed one registers the
    variant with Application Auto Scaling: SageMaker fails that endpoint update ("Update
    endpoints that use auto scaling"), so it takes the runbook's three releases instead."""
    before, after = previous.get("Parameters", {}), current.get("Parameters", {})
    if _is_true(before.get("EnableAutoScaling")) and \
            before.get("InstanceType") != after.get("InstanceType"):
        yield f"InstanceType changes from {before.get('InstanceType')} to " \
              f"{after.get('InstanceType')} while auto scaling is registered: SageMaker fails " \
              "that update; follow Docs/runbook.md, 'Changing the prod instance type' " \
              "(deregister, change, register again: three releases)"


def violations(template: Template) -> list[str]:
    """Every breach of RULES in `template`, as `"<rule>: <where>: <what>"`."""
    return [f"{rule}: {message}" for rule, check in RULES.items() for message in check(template)]
