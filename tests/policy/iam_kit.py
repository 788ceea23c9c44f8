"""The templates' roles as deployed, for the product's IAM policy evaluator
(sagepipe/iam/policy.py: `Principal.decide(call)`, which the local IAM's SimulatePrincipalPolicy
answers with too).

Templates are read as cfn-lint reads them (rules.load); `Ref`, `Fn::GetAtt`, `Fn::Sub`,
`Fn::Join` and `Fn::If` (with the template's conditions) are resolved for a stack of ProjectName
`sagepipe` in account 123456789012, us-east-1, with every named resource's ARN built from its
name property as AWS builds it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from templates.templates_kit import SUB_VARIABLE

from sagepipe.iam.policy import (
    Call,
    Principal,
    Statement,
    UnsupportedPolicy,
    as_list,
    decide,
    statements_of,
)

from .rules_kit import Template

__all__ = ["Call", "Principal", "Stack", "Statement", "UnsupportedPolicy", "decide", "role",
           "without"]

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION,
          "AWS::URLSuffix": "amazonaws.com"}
NO_VALUE = object()  # what `Ref: AWS::NoValue` resolves to: the property is left out
# type -> (name property, what Ref returns, {attribute: format}); {name} is the physical name.
NAMED = {
    "AWS::S3::Bucket": ("BucketName", "{name}", {"Arn": "arn:{p}:s3:::{name}"}),
    "AWS::ECR::Repository": ("RepositoryName", "{name}", {
        "Arn": "arn:{p}:ecr:{r}:{a}:repository/{name}",
        "RepositoryUri": "{a}.dkr.ecr.{r}.amazonaws.com/{name}"}),
    "AWS::IAM::Role": ("RoleName", "{name}", {"Arn": "arn:{p}:iam::{a}:role/{name}"}),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", "arn:{p}:iam::{a}:policy/{name}", {}),
    "AWS::CodeBuild::Project": ("Name", "{name}", {
        "Arn": "arn:{p}:codebuild:{r}:{a}:project/{name}"}),
    "AWS::Logs::LogGroup": ("LogGroupName", "{name}", {
        "Arn": "arn:{p}:logs:{r}:{a}:log-group:{name}:*"}),
    "AWS::SNS::Topic": ("TopicName", "arn:{p}:sns:{r}:{a}:{name}", {}),
    "AWS::CodePipeline::Pipeline": ("Name", "{name}", {}),
    "AWS::Lambda::Function": ("FunctionName", "{name}", {
        "Arn": "arn:{p}:lambda:{r}:{a}:function:{name}"}),
}
# --------------------------------------------------------------------------- the templates
@dataclass
class Stack:
    """A template deployed as a stack: its parameters, and what its intrinsics resolve to."""

    template: Template
    parameters: dict[str, str]
    name: str

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self._variable(argument)
            if key == "Fn::GetAtt":
                logical, attribute = (argument.split(".", 1) if isinstance(argument, str)
                                      else argument)
                return self._attribute(logical, attribute)
            if key == "Fn::Sub":
                text, extra = (argument, {}) if isinstance(argument, str) else argument
                local = {k: str(self.resolve(v)) for k, v in extra.items()}
                return SUB_VARIABLE.sub(lambda m: local.get(m[1]) or str(self._variable(m[1])),
                                       text)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self.condition(condition) else if_false)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def condition(self, name: str) -> bool:
        return self._holds(self.template["Conditions"][name])

    def _holds(self, expression: Any) -> bool:
        (key, argument), = expression.items()
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::Equals":
            left, right = (self.resolve(side) for side in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._holds(argument[0])
        if key in ("Fn::And", "Fn::Or"):
            found = [self._holds(part) for part in argument]
            return all(found) if key == "Fn::And" else any(found)
        raise UnsupportedPolicy(f"cannot evaluate the condition {expression}")

    def _variable(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name == "AWS::StackName":
            return self.name
        if name in self.parameters:
            return self.parameters[name]
        declared = self.template.get("Parameters", {}).get(name)
        if declared is not None and "Default" in declared:  # a parameter the deploy leaves out
            return declared["Default"]
        if "." in name:
            return self._attribute(*name.split(".", 1))
        return self._format(name, None)

    def _attribute(self, logical: str, attribute: str) -> str:
        return self._format(logical, attribute)

    def _format(self, logical: str, attribute: str | None) -> str:
        resource = self.template["Resources"].get(logical)
        if resource is None or resource["Type"] not in NAMED:
            raise UnsupportedPolicy(f"cannot resolve {logical}.{attribute or 'Ref'}")
        prop, ref, attributes = NAMED[resource["Type"]]
        name = self.resolve(resource.get("Properties", {}).get(prop)) or \
            f"{self.name}-{logical}-GENERATED"
        pattern = ref if attribute is None else attributes.get(attribute)
        if pattern is None:
            raise UnsupportedPolicy(f"no attribute {attribute} of {logical}")
        return pattern.format(name=name, p=PARTITION, r=REGION, a=ACCOUNT)


def document_statements(where: str, document: Any, stack: Stack) -> list[Statement]:
    return statements_of(where, stack.resolve(document))


# --------------------------------------------------------------------------- principals
def without(principal: Principal, action: str) -> Principal:
    """A copy of `principal` whose Allow statements no longer name `action` (a planted gap)."""
    kept = []
    for statement in principal.statements:
        body = copy.deepcopy(statement.body)
        if body.get("Effect") == "Allow" and "Action" in body:
            body["Action"] = [a for a in as_list(body["Action"]) if a.lower() != action.lower()]
            if not body["Action"]:
                continue
        kept.append(Statement(statement.where, body))
    return Principal(principal.name, kept, principal.boundary)


def managed_policies(stacks: Iterable[Stack]) -> dict[str, list[Statement]]:
    """Every managed policy of `stacks`, by its ARN."""
    found = {}
    for stack in stacks:
        for logical, resource in stack.template["Resources"].items():
            if resource["Type"] == "AWS::IAM::ManagedPolicy":
                arn = stack.resolve({"Ref": logical})
                found[arn] = document_statements(
                    logical, resource["Properties"]["PolicyDocument"], stack)
    return found


def role(stack: Stack, logical: str, every_stack: Iterable[Stack]) -> Principal:
    """The role `logical` of `stack`: inline and managed policies, permissions boundary."""
    props = stack.template["Resources"][logical]["Properties"]
    policies = managed_policies(every_stack)
    statements = [s for policy in props.get("Policies", [])
                  for s in document_statements(f"{logical}/{policy['PolicyName']}",
                                               policy["PolicyDocument"], stack)]
    for arn in stack.resolve(props.get("ManagedPolicyArns", [])):
        if arn not in policies:
            raise UnsupportedPolicy(f"{logical}: managed policy {arn} is not in the templates")
        statements += policies[arn]
    boundary = None
    if (arn := stack.resolve(props.get("PermissionsBoundary", NO_VALUE))) is not NO_VALUE:
        if arn not in policies:
            raise UnsupportedPolicy(f"{logical}: boundary {arn} is not in the templates")
        boundary = policies[arn]
    return Principal(logical, statements, boundary)
