"""A workflow's CloudFormation stack: its state machine (the `get_cloudformation_template()` of
ds_stepfunctions), the role it runs as, and whatever else the workflow needs (Lambda functions).

The definition is built with `${Parameter}` strings where the deployment decides (bucket, roles,
images) and the template maps them with `DefinitionSubstitutions`. The state machine's policy is
derived from the definition itself: each Task's integration grants exactly its API calls on its
resource type in this account and region, `iam:PassRole` names only the SageMaker execution role
(passed to SageMaker only), and `lambda:InvokeFunction` names only the stack's own functions.
Every role of the stack takes the optional `PermissionsBoundaryArn`: whoever deploys the stack
with a role that may create roles only under a boundary (the release pipeline's CloudFormation
role) passes it, and an edit of the template can then grant no more than the boundary allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ds_stepfunctions.workflow import Workflow
from workflows.aws import Place

SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9]+)\}")
INTEGRATION = re.compile(r"arn:aws:states:::(?P<service>[a-z0-9-]+):(?P<action>[A-Za-z]+)"
                         r"(?::(?P<sdk_action>[A-Za-z]+))?(?P<sync>\.sync)?")
# The SageMaker resource types an action is authorized on.
SAGEMAKER_RESOURCES = {
    "CreateTrainingJob": ("training-job",), "DescribeTrainingJob": ("training-job",),
    "StopTrainingJob": ("training-job",),
    "CreateProcessingJob": ("processing-job",), "DescribeProcessingJob": ("processing-job",),
    "StopProcessingJob": ("processing-job",),
    "CreateTransformJob": ("transform-job",), "DescribeTransformJob": ("transform-job",),
    "StopTransformJob": ("transform-job",),
    "CreateModel": ("model",), "CreateEndpointConfig": ("endpoint-config",),
    "CreateEndpoint": ("endpoint", "endpoint-config"),
    "UpdateEndpoint": ("endpoint", "endpoint-config"), "DescribeEndpoint": ("endpoint",),
}
# What a `.sync` job integration does besides creating the job: watch it (EventBridge rule
# managed by Step Functions, plus Describe), and stop it when the execution stops.
SYNC_JOBS = {"createTrainingJob": ("TrainingJob", "Training"),
             "createProcessingJob": ("ProcessingJob", "Processing"),
             "createTransformJob": ("TransformJob", "Transform")}
PASSES_ROLE = {"CreateTrainingJob", "CreateProcessingJob", "CreateModel"}


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    default: str | None = None
    pattern: str | None = None

    def declaration(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Type": "String", "Description": self.description}
        if self.default is not None:
            body["Default"] = self.default
        if self.pattern is not None:
            body["AllowedPattern"] = self.pattern
        return body


BUCKET = Parameter("Bucket", "Bucket holding the workflow's data and artifacts",
                   pattern=r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
PREFIX = Parameter("Prefix", "Key prefix of the workflow's data in the bucket", "workflows",
                   pattern=r"[A-Za-z0-9!_.*'()/-]+")
SAGEMAKER_ROLE = Parameter("SageMakerRoleArn", "Execution role of the SageMaker jobs and models "
                           "(the only role the state machine may pass)",
                           pattern=r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
INSTANCE_TYPE = Parameter("InstanceType", "Instance type of the jobs and endpoints",
                          "ml.m5.large", pattern=r"ml\.[a-z0-9]+\.[a-z0-9]+")
COMMON = (BUCKET, PREFIX, SAGEMAKER_ROLE, INSTANCE_TYPE)
# Taken by every stack (template() adds it): the permissions boundary of the stack's roles.
BOUNDARY = Parameter("PermissionsBoundaryArn", "Permissions boundary of the stack's roles (a "
                     "managed policy ARN), or empty for none", "",
                     pattern=r"(arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]+)?")
HAS_BOUNDARY = "HasPermissionsBoundary"
# The Place a template's definition is built with: CloudFormation fills these in.
PLACE = Place(f"${{{BUCKET.name}}}", f"${{{PREFIX.name}}}", f"${{{SAGEMAKER_ROLE.name}}}",
              f"${{{INSTANCE_TYPE.name}}}")


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def arn(service: str, resource: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:"
                       f"${{AWS::AccountId}}:{resource}"}


@dataclass
class Stack:
    """The resources of a workflow's template besides its state machine."""

    parameters: tuple[Parameter, ...]
    functions: dict[str, str] = field(default_factory=dict)  # ${Name} -> function resource
    resources: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


def state_machine_statements(definition: Mapping[str, Any],
                             functions: Mapping[str, str]) -> list[dict[str, Any]]:
    """The least privileges that let the state machine run `definition`'s Task states."""
    sagemaker: set[str] = set()
    rules: set[str] = set()
    invokes = False
    for resource in task_resources(definition):
        match = INTEGRATION.fullmatch(resource)
        if match is None:
            raise ValueError(f"no IAM mapping for Task resource {resource}")
        service, action = match["service"], match["action"]
        if service == "sagemaker":
            sagemaker.add(action[0].upper() + action[1:])
            if match["sync"]:
                kind, rule = SYNC_JOBS[action]
                sagemaker.update({f"Describe{kind}", f"Stop{kind}"})
                rules.add(f"StepFunctionsGetEventsForSageMaker{rule}JobsRule")
        elif service == "aws-sdk" and action == "sagemaker" and match["sdk_action"]:
            sagemaker.add(match["sdk_action"][0].upper() + match["sdk_action"][1:])
        elif service == "lambda" and action == "invoke":
            invokes = True
        else:
            raise ValueError(f"no IAM mapping for Task resource {resource}")
    statements: list[dict[str, Any]] = []
    by_resources: dict[tuple[str, ...], list[str]] = {}
    for action in sorted(sagemaker):
        by_resources.setdefault(SAGEMAKER_RESOURCES[action], []).append(f"sagemaker:{action}")
    for kinds, actions in sorted(by_resources.items()):
        statements.append({
            "Sid": "SageMaker" + "".join(k.title().replace("-", "") for k in kinds),
            "Effect": "Allow", "Action": actions,
            "Resource": [arn("sagemaker", f"{kind}/*") for kind in kinds]})
    if rules:
        statements.append({"Sid": "WatchSageMakerJobs", "Effect": "Allow",
                           "Action": ["events:PutTargets", "events:PutRule",
                                      "events:DescribeRule"],
                           "Resource": [arn("events", f"rule/{rule}") for rule in sorted(rules)]})
    if sagemaker & PASSES_ROLE:
        statements.append({"Sid": "PassSageMakerRole", "Effect": "Allow",
                           "Action": "iam:PassRole", "Resource": ref(SAGEMAKER_ROLE.name),
                           "Condition": {"StringEquals": {
                               "iam:PassedToService": "sagemaker.amazonaws.com"}}})
    if invokes:
        if not functions:
            raise ValueError("the definition invokes Lambda functions the stack does not define")
        statements.append({"Sid": "InvokeOwnFunctions", "Effect": "Allow",
                           "Action": "lambda:InvokeFunction",
                           "Resource": [{"Fn::GetAtt": [name, "Arn"]}
                                        for name in functions.values()]})
    return statements


def task_resources(definition: Mapping[str, Any]) -> Iterator[str]:
    """The Resource of every Task, in Parallel branches and Map iterators too."""
    for state in definition["States"].values():
        if state["Type"] == "Task":
            yield state["Resource"]
        for branch in state.get("Branches", []):
            yield from task_resources(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from task_resources(state[key])


def assume_role(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": f"{service}.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}


def template(workflow: Workflow, description: str, stack: Stack) -> str:
    """The workflow's stack as YAML: parameters, the state machine role, the state machine
    (ds_stepfunctions' export, with substitutions and the role), the other resources."""
    exported = yaml.safe_load(workflow.get_cloudformation_template(description))
    machine = exported["Resources"]["StateMachineComponent"]
    definition = json.loads(machine["Properties"]["DefinitionString"])
    names = {p.name for p in stack.parameters}
    used = set(SUBSTITUTION.findall(machine["Properties"]["DefinitionString"]))
    unknown = used - names - set(stack.functions)
    if unknown:
        raise ValueError(f"the definition uses ${{{', '.join(sorted(unknown))}}}, which the "
                         "stack neither takes nor makes")
    substitutions: dict[str, dict[str, Any]] = {name: ref(name) for name in sorted(used & names)}
    substitutions.update({name: {"Fn::GetAtt": [resource, "Arn"]}
                          for name, resource in stack.functions.items() if name in used})
    machine["Properties"]["StateMachineName"] = ref("AWS::StackName")
    machine["Properties"]["RoleArn"] = {"Fn::GetAtt": ["StateMachineRole", "Arn"]}
    if substitutions:
        machine["Properties"]["DefinitionSubstitutions"] = substitutions
    role = {"Type": "AWS::IAM::Role", "Properties": {
        "Description": f"Runs the {workflow.name} state machine",
        "AssumeRolePolicyDocument": assume_role("states"),
        "Policies": [{"PolicyName": "run-workflow", "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": state_machine_statements(definition, stack.functions)}}]}}
    resources = {"StateMachineRole": role, "StateMachineComponent": machine, **stack.resources}
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Role":
            resource["Properties"]["PermissionsBoundary"] = {
                "Fn::If": [HAS_BOUNDARY, ref(BOUNDARY.name), ref("AWS::NoValue")]}
    document = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": exported["Description"],
        "Parameters": {p.name: p.declaration() for p in (*stack.parameters, BOUNDARY)},
        "Conditions": {HAS_BOUNDARY: {"Fn::Not": [{"Fn::Equals": [ref(BOUNDARY.name), ""]}]}},
        "Resources": resources,
        "Outputs": {"StateMachineArn": {"Description": "run it: python -m workflows.<name> "
                                                       "--state-machine-arn <this>",
                                        "Value": ref("StateMachineComponent")},
                    **stack.outputs},
    }
    return yaml.dump(document, Dumper=_Dumper, default_flow_style=False, sort_keys=False,
                     width=1_000_000)


class _Dumper(yaml.SafeDumper):
    """Keeps key order; multi-line strings (the definition) as `|` blocks."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data,
                                   style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str)
