"""A small IAM policy evaluator over the templates' own policy statements.

`Principal.decide(call)` answers as IAM's evaluation logic does for one identity-based request
in one account: an explicit Deny wins, else an Allow is needed; a permissions boundary must
allow the call too. Statements are matched on Action / NotAction (wildcards, case-insensitive),
Resource / NotResource (ARN globs, case-sensitive) and Condition (the operators the project's
policies use; any other raises, so that a new one is implemented rather than ignored).

Templates are read as cfn-lint reads them (rules.load); `Ref`, `Fn::GetAtt`, `Fn::Sub` and
`Fn::Join` are resolved for a stack of ProjectName `sagepipe` in account 123456789012,
us-east-1, with every named resource's ARN built from its name property as AWS builds it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from templates.cfn import SUB_VARIABLE

from .rules import Template, as_list

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION,
          "AWS::URLSuffix": "amazonaws.com"}
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
}
NEGATED = ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")


class UnsupportedPolicy(ValueError):
    """A policy uses something this evaluator does not implement (say so, never guess)."""


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
        return {k: self.resolve(v) for k, v in value.items()}

    def _variable(self, name: str) -> Any:
        if name in PSEUDO:
            return PSEUDO[name]
        if name == "AWS::StackName":
            return self.name
        if name in self.parameters:
            return self.parameters[name]
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


# --------------------------------------------------------------------------- statements
@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters (`/` and `:` included), `?` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _condition_holds(operator: str, key: str, expected: list[str],
                     context: Mapping[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    actual = {k.lower(): v for k, v in context.items()}.get(key.lower())
    if actual is None:
        return if_exists or base in NEGATED
    if base in ("StringEquals", "ArnEquals"):
        return actual in expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() in [e.lower() for e in expected]
    if base in ("StringLike", "ArnLike"):
        return any(matches(e, actual) for e in expected)
    if base in ("StringNotEquals", "ArnNotEquals"):
        return actual not in expected
    if base in ("StringNotLike", "ArnNotLike"):
        return not any(matches(e, actual) for e in expected)
    if base == "Bool":
        return actual.lower() in [str(e).lower() for e in expected]
    raise UnsupportedPolicy(f"condition operator {operator} is not implemented")


@dataclass(frozen=True)
class Call:
    """One request an identity makes: the action, the resource ARN, the request context."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)
    caller: str = ""

    def __str__(self) -> str:
        context = "".join(f" [{k}={v}]" for k, v in self.context.items())
        return f"{self.action} on {self.resource}{context}"


@dataclass(frozen=True)
class Statement:
    where: str
    body: dict[str, Any]  # resolved: plain strings and lists only

    def applies_to(self, call: Call) -> bool:
        body = self.body
        if "Principal" in body or "NotPrincipal" in body:
            raise UnsupportedPolicy(f"{self.where}: resource policies are not evaluated here")
        if "Action" in body:
            action_ok = any(matches(a, call.action, True) for a in as_list(body["Action"]))
        else:
            action_ok = not any(matches(a, call.action, True) for a in as_list(body["NotAction"]))
        if "Resource" in body:
            resource_ok = any(matches(r, call.resource) for r in as_list(body["Resource"]))
        else:
            resource_ok = not any(matches(r, call.resource)
                                  for r in as_list(body["NotResource"]))
        return action_ok and resource_ok and all(
            _condition_holds(operator, key, [str(v) for v in as_list(expected)], call.context)
            for operator, keys in body.get("Condition", {}).items()
            for key, expected in keys.items())


def decide(statements: Iterable[Statement], call: Call) -> str:
    """"Allow", "ExplicitDeny" or "ImplicitDeny", as IAM decides within one policy set."""
    applying = [s for s in statements if s.applies_to(call)]
    if any(s.body.get("Effect") == "Deny" for s in applying):
        return "ExplicitDeny"
    return "Allow" if any(s.body.get("Effect") == "Allow" for s in applying) else "ImplicitDeny"


def document_statements(where: str, document: Any, stack: Stack) -> list[Statement]:
    resolved = stack.resolve(document)
    return [Statement(f"{where}/{s.get('Sid') or i}", s)
            for i, s in enumerate(as_list(resolved.get("Statement", [])))]


# --------------------------------------------------------------------------- principals
@dataclass
class Principal:
    """A role as deployed: its identity statements and, if it has one, its boundary's."""

    name: str
    statements: list[Statement]
    boundary: list[Statement] | None = None

    def decide(self, call: Call) -> str:
        verdict = decide(self.statements, call)
        if verdict != "Allow" or self.boundary is None:
            return verdict
        bounded = decide(self.boundary, call)
        return "Allow" if bounded == "Allow" else f"{bounded} (permissions boundary)"

    def without(self, action: str) -> Principal:
        """A copy whose Allow statements no longer name `action` (a planted gap)."""
        kept = []
        for statement in self.statements:
            body = copy.deepcopy(statement.body)
            if body.get("Effect") == "Allow" and "Action" in body:
                body["Action"] = [a for a in as_list(body["Action"]) if a.lower() != action.lower()]
                if not body["Action"]:
                    continue
            kept.append(Statement(statement.where, body))
        return Principal(self.name, kept, self.boundary)


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
    if "PermissionsBoundary" in props:
        arn = stack.resolve(props["PermissionsBoundary"])
        if arn not in policies:
            raise UnsupportedPolicy(f"{logical}: boundary {arn} is not in the templates")
        boundary = policies[arn]
    return Principal(logical, statements, boundary)
