"""Reading, checking and rendering templates, with CloudFormation's own error texts.

`parse` reads a template body (JSON or YAML, short-form tags such as `!Ref` included) and checks
what CloudFormation checks before anything is created ("Template format error: ..."):
sections, resource types, references, cycles. `parameter_values` applies the parameters'
declarations to the values given ("Parameters: [X] must have values", "Parameter 'X' must be
one of AllowedValues", ...). `render` resolves everything else (conditions, intrinsic functions,
imports) with cloud-radar, given each resource's identity (what `Ref`/`Fn::GetAtt` return).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from collections.abc import Iterator, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import yaml
from cfn_tools import load_yaml
from cloud_radar.cf.unit import Template

from sagepipe.config import ACCOUNT_ID, DEFAULT_REGION, arn

SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z0-9.]+)?\}")
SECTIONS = {"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules",
            "Mappings", "Conditions", "Transform", "Resources", "Outputs", "Hooks"}
PSEUDO_PARAMETERS = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue",
                     "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName",
                     "AWS::URLSuffix"}
PARAMETER_TYPES = re.compile(r"^(String|Number|List<Number>|CommaDelimitedList|"
                             r"(List<)?AWS::[A-Za-z0-9:<>]+)$")
RESOURCE_TYPE = re.compile(r"^[A-Za-z0-9]+::[A-Za-z0-9_@-]+(::[A-Za-z0-9]+)*$")
DELETION_POLICIES = ("Delete", "Retain", "RetainExceptOnCreate", "Snapshot")
# IAM resource types and the property that gives one a custom name (CAPABILITY_NAMED_IAM).
IAM_TYPES = {"AWS::IAM::Role": "RoleName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
             "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
             "AWS::IAM::InstanceProfile": "InstanceProfileName", "AWS::IAM::Policy": "",
             "AWS::IAM::AccessKey": "", "AWS::IAM::UserToGroupAddition": ""}


class TemplateError(ValueError):
    """The template or its parameters are invalid; the message is CloudFormation's."""


def format_error(detail: str) -> TemplateError:
    return TemplateError(f"Template format error: {detail}")


# -- reading -------------------------------------------------------------------------------
def parse(text: str) -> dict[str, Any]:
    """A template body as CloudFormation reads it: JSON when it starts with `{`, else YAML."""
    if text.lstrip().startswith("{"):
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            raise format_error(f"JSON not well-formed. (line {exc.lineno}, column "
                               f"{exc.colno})") from None
    else:
        try:
            body = load_yaml(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise format_error(f"YAML not well-formed.{where}") from None
        except (yaml.YAMLError, ValueError, TypeError):
            raise format_error("YAML not well-formed.") from None
    check(body)
    return body


def load(path: Path) -> dict[str, Any]:
    """The template in the file `path` (parse)."""
    return parse(path.read_text())


def check(body: Any) -> None:
    """CloudFormation's checks of a template's structure, before any parameter is applied."""
    if not isinstance(body, dict):
        raise format_error("unsupported structure.")
    unknown = sorted(set(body) - SECTIONS)
    if unknown:
        raise format_error(f"Invalid template property or properties [{', '.join(unknown)}]")
    for section in ("Parameters", "Mappings", "Conditions", "Outputs", "Metadata", "Rules"):
        if not isinstance(body.get(section, {}), dict):
            raise format_error(f"The {section} section must be an object")
    version = body.get("AWSTemplateFormatVersion")
    if version is not None and str(version) != "2010-09-09":
        raise format_error(f"'{version}' is not a supported AWSTemplateFormatVersion value; "
                           "the only one is 2010-09-09")
    resources = body.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise format_error("At least one Resources member must be defined.")
    for name, resource in resources.items():
        if not re.fullmatch(r"[A-Za-z0-9]+", str(name)):
            raise format_error(f"Resource name {name} is non alphanumeric.")
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise format_error(f"[/Resources/{name}] Every Resources object must contain a "
                               "Type member.")
        if not isinstance(resource.get("Properties", {}), dict):
            raise format_error(f"[/Resources/{name}/Properties] Properties must be an object")
        depends = resource.get("DependsOn", [])
        if not isinstance(depends, str) and not (
                isinstance(depends, list) and all(isinstance(d, str) for d in depends)):
            raise format_error(f"[/Resources/{name}/DependsOn] DependsOn must be a resource "
                               "name or a list of resource names")
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if resource.get(policy, "Delete") not in DELETION_POLICIES:
                raise format_error(f"[/Resources/{name}/{policy}] {resource[policy]} is not "
                                   f"one of {', '.join(DELETION_POLICIES)}")
    bad_types = sorted({r["Type"] for r in resources.values()
                        if not RESOURCE_TYPE.match(r["Type"])})
    if bad_types:
        raise format_error(f"Unrecognized resource types: [{', '.join(bad_types)}]")
    for name, parameter in (body.get("Parameters") or {}).items():
        if not isinstance(parameter, dict) or "Type" not in parameter:
            raise format_error(f"[/Parameters/{name}] Every Parameters object must contain a "
                               "Type member.")
        if not PARAMETER_TYPES.match(str(parameter["Type"])):
            raise format_error(f"Unrecognized parameter type: {parameter['Type']}")
        for bound in ("MinLength", "MaxLength", "MinValue", "MaxValue"):
            if bound in parameter and not _is_number(parameter[bound]):
                raise format_error(f"[/Parameters/{name}/{bound}] {bound} must be a number")
    for name, output in (body.get("Outputs") or {}).items():
        if not isinstance(output, dict) or "Value" not in output:
            raise format_error(f"[/Outputs/{name}] Every Outputs member must contain a Value "
                               "object")
    if "Transform" not in body:  # a transform adds resources that the template refers to
        _check_references(body)
    creation_order(resources)


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _check_references(body: dict[str, Any]) -> None:
    resources = body["Resources"]
    known = set(resources) | set(body.get("Parameters") or {}) | PSEUDO_PARAMETERS
    for section in ("Resources", "Outputs"):
        unresolved: set[str] = set()
        for kind, target in _references(body.get(section) or {}):
            if kind == "GetAtt" and target not in resources:
                raise TemplateError("Template error: instance of Fn::GetAtt references "
                                    f"undefined resource {target}")
            if target not in known:
                unresolved.add(target)
        if unresolved:
            raise format_error(f"Unresolved resource dependencies [{', '.join(sorted(unresolved))}]"
                               f" in the {section} block of the template")


def _references(node: Any) -> Iterator[tuple[str, str]]:
    """(kind, logical name) of each reference in a template fragment: Ref, GetAtt, Sub,
    DependsOn."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield "Ref", value
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                yield "GetAtt", str(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                own = set(value[1]) if isinstance(value, list) and len(value) > 1 and \
                    isinstance(value[1], dict) else set()
                if isinstance(text, str):
                    yield from (("Sub", name) for name in SUB_REFERENCE.findall(text)
                                if name not in own)
                if own:
                    yield from _references(value[1])
            elif key == "DependsOn":
                yield from (("DependsOn", str(d)) for d in
                            ([value] if isinstance(value, str) else value or []))
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def references(node: Any) -> set[str]:
    """Logical names a template fragment refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn)."""
    return {target for _kind, target in _references(node)}


def creation_order(resources: dict[str, Any]) -> list[str]:
    """Logical names in an order where every resource comes after what it refers to."""
    graph = {name: references(resource) & resources.keys() - {name}
             for name, resource in resources.items()}
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = sorted(set(exc.args[1]))
        raise TemplateError(f"Circular dependency between resources: [{', '.join(cycle)}]"
                            ) from None


# -- what a template needs -----------------------------------------------------------------
def required_capabilities(body: dict[str, Any]) -> tuple[list[str], str]:
    """The capabilities creating the template needs, and CloudFormation's reason for them.

    IAM resources need CAPABILITY_IAM, named ones CAPABILITY_NAMED_IAM; a SAM function without
    a `Role` gets one from the transform, so it counts as an IAM resource; a transform itself
    needs CAPABILITY_AUTO_EXPAND when a stack is created or updated directly (a change set
    processes it first)."""
    capabilities: list[str] = []
    iam_types: set[str] = set()
    named = False
    for resource in body["Resources"].values():
        kind, props = resource["Type"], resource.get("Properties") or {}
        if kind in IAM_TYPES:
            iam_types.add(kind)
            named = named or bool(IAM_TYPES[kind] and props.get(IAM_TYPES[kind]))
        elif kind == "AWS::Serverless::Function" and not props.get("Role"):
            iam_types.add(kind)
    if iam_types:
        capabilities.append("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
    reason = (f"The following resource(s) require capabilities: [{', '.join(sorted(iam_types))}]"
              if iam_types else "")
    if "Transform" in body:
        capabilities.append("CAPABILITY_AUTO_EXPAND")
    return capabilities, reason


def missing_capabilities(body: dict[str, Any], granted: list[str],
                         change_set: bool = False) -> list[str]:
    """What `granted` lacks of what the template needs (NAMED_IAM also grants IAM)."""
    needed, _reason = required_capabilities(body)
    missing = []
    for capability in needed:
        if capability == "CAPABILITY_AUTO_EXPAND" and change_set:
            continue
        if capability == "CAPABILITY_IAM" and "CAPABILITY_NAMED_IAM" in granted:
            continue
        if capability not in granted:
            missing.append(capability)
    return missing


def declared_parameters(body: dict[str, Any]) -> list[dict[str, Any]]:
    """ValidateTemplate's and GetTemplateSummary's view of the Parameters section."""
    declared = []
    for name, spec in (body.get("Parameters") or {}).items():
        entry: dict[str, Any] = {"ParameterKey": name, "ParameterType": str(spec["Type"]),
                                 "NoEcho": str(spec.get("NoEcho", "false")).lower() == "true",
                                 "Description": spec.get("Description")}
        if "Default" in spec:
            entry["DefaultValue"] = as_text(spec["Default"])
        if "AllowedValues" in spec:
            entry["ParameterConstraints"] = {"AllowedValues": [as_text(v) for v in
                                                               spec["AllowedValues"]]}
        declared.append(entry)
    return declared


def no_echo(body: dict[str, Any]) -> list[str]:
    return [p["ParameterKey"] for p in declared_parameters(body) if p["NoEcho"]]


# -- parameters ----------------------------------------------------------------------------
def as_text(value: Any) -> str:
    """A parameter value as CloudFormation holds it (YAML may give numbers and booleans)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(as_text(v) for v in value)
    return str(value)


def parameter_values(body: dict[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Every declared parameter's value (given, else its Default), each checked against its
    declaration; raises TemplateError with CloudFormation's message."""
    declared = body.get("Parameters") or {}
    if given and not declared:
        raise TemplateError("Parameter values specified for a template which does not "
                            "require them.")
    unknown = [name for name in given if name not in declared]
    if unknown:
        raise TemplateError(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = [name for name, spec in declared.items()
               if name not in given and "Default" not in spec]
    if missing:
        raise TemplateError(f"Parameters: [{', '.join(missing)}] must have values")
    values = {name: str(given[name]) if name in given else as_text(spec["Default"])
              for name, spec in declared.items()}
    for name, value in values.items():
        problem = _constraint_problem(declared[name], value)
        if problem:
            described = declared[name].get("ConstraintDescription")
            raise TemplateError(f"Parameter {name} failed to satisfy constraint: {described}"
                                if described else f"Parameter '{name}' {problem}")
    return values


def _constraint_problem(spec: dict[str, Any], value: str) -> str | None:
    kind = str(spec["Type"])
    items = [v.strip() for v in value.split(",")] if kind in (
        "CommaDelimitedList", "List<Number>") else [value]
    for item in items:
        allowed = [as_text(v) for v in spec.get("AllowedValues", [])]
        if allowed and item not in allowed:
            return "must be one of AllowedValues"
        if kind in ("Number", "List<Number>"):
            problem = _number_problem(spec, item)
        else:
            problem = _string_problem(spec, item)
        if problem:
            return problem
    return None


def _number_problem(spec: dict[str, Any], item: str) -> str | None:
    try:
        number = float(item)
    except ValueError:
        return "must be a number"
    if not math.isfinite(number):
        return "must be a number"
    if "MinValue" in spec and number < float(spec["MinValue"]):
        return f"must be a number not less than {as_text(spec['MinValue'])}"
    if "MaxValue" in spec and number > float(spec["MaxValue"]):
        return f"must be a number not greater than {as_text(spec['MaxValue'])}"
    return None


def _string_problem(spec: dict[str, Any], item: str) -> str | None:
    pattern = spec.get("AllowedPattern")
    if pattern is not None:
        try:
            matched = re.fullmatch(str(pattern), item) is not None
        except re.error:
            matched = True  # a Java-only construct: not checked locally
        if not matched:
            return f"must match pattern {pattern}"
    if "MinLength" in spec and len(item) < int(spec["MinLength"]):
        return f"must contain at least {spec['MinLength']} characters"
    if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
        return f"must contain at most {spec['MaxLength']} characters"
    return None


# -- rendering -----------------------------------------------------------------------------
class Imports(dict[str, str]):
    """The exports a template may import (`Fn::ImportValue`); remembers which names it asked
    for, so that a stack knows what it imports and a missing export is named."""

    def __init__(self, exports: Mapping[str, str] | None = None) -> None:
        super().__init__(exports or {})
        self.asked: list[str] = []

    def __contains__(self, name: object) -> bool:
        self.asked.append(str(name))
        return super().__contains__(name)

    def __bool__(self) -> bool:
        return True  # cloud-radar refuses every import when it has none configured

    @property
    def used(self) -> list[str]:
        return sorted({name for name in self.asked if dict.__contains__(self, name)})


def render(body: dict[str, Any], parameters: Mapping[str, str],
           identities: dict[str, tuple[str, dict[str, str]]],
           stack_name: str, stack_id: str | None = None,
           imports: Imports | None = None) -> dict[str, Any]:
    """Resolve parameters, conditions and intrinsics; `identities` gives each resource's
    `Ref` value and `Fn::GetAtt` attributes; `AWS::StackId` is `stack_id` (a placeholder ARN
    when rendering outside a stack); `imports` the exports `Fn::ImportValue` may read.
    Raises TemplateError with CloudFormation's reason where there is one, else cloud-radar's."""
    values = parameter_values(body, parameters)
    body = json.loads(json.dumps(body, default=str))  # plain dicts: cloud-radar YAML-dumps it
    for name, (ref, attributes) in identities.items():
        if name in body["Resources"]:
            metadata = body["Resources"][name].setdefault("Metadata", {})
            metadata["Cloud-Radar"] = {"ref": ref, "attribute-values": attributes}
    imports = Imports() if imports is None else imports
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # cloud-radar 0.17 prints templates
            template = Template(body, imports=imports)
        template.AccountId = ACCOUNT_ID
        template.StackName = stack_name
        template.StackId = stack_id or arn("cloudformation", f"stack/{stack_name}/local")
        rendered = template.render(values, region=DEFAULT_REGION)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        missing = [name for name in imports.asked if not dict.__contains__(imports, name)]
        if missing:
            raise TemplateError(f"No export named {missing[0]} found") from None
        raise TemplateError(f"Template error: {str(exc).strip(chr(34) + chr(39))}") from None
    for resource in rendered["Resources"].values():
        resource.pop("Metadata", None)
    return rendered
