"""Each role may make the calls its code and resources make, on the resources they touch, and
no more than it needs where it matters (iam_calls.yaml lists both). Decided by the policy
evaluator of iam.py over the roles as deployed, never by matching strings; and the check is
proven to notice: removing any one permission a listed call needs makes it name that call."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from .checkers_kit import REPO
from .iam_kit import Call, Principal, Stack, role, without
from .rules_kit import load

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

CALLS_FILE = Path(__file__).with_name("iam_calls.yaml")
DATA = yaml.safe_load(CALLS_FILE.read_text())
PROJECT = "sagepipe"
# What the earlier actions give the Build stage's deploy of the training stack.
PIPELINE_VARIABLES = {"SourceVariables.CommitId": "c0ffee1",
                      "Image.IMAGE_URI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/"
                                         "sagepipe-model:c0ffee1",
                      "ProdEndpoint.EndpointName": "sagepipe-prod"}
# Templates the actions read from a build's output, by the template they were packaged from.
PACKAGED = {"ApiPackage::batch-inference.packaged.yaml": "CloudFormation/batch-inference.yaml"}


@dataclass
class Listed:
    principal: Principal
    calls: list[Call]  # must be allowed
    refused: list[Call]  # must not be


def _call(entry: str | dict, caller: str) -> Call:
    constants = DATA["constants"]
    text = entry if isinstance(entry, str) else entry["call"]
    action, resource = text.format(**constants).split(None, 1)
    context = {} if isinstance(entry, str) else {
        key: str(value).format(**constants) for key, value in entry["context"].items()}
    return Call(action, resource.strip('"'), context, caller)


def deployed_by(pipeline: Stack, action_name: str) -> Stack:
    """The stack a CloudFormation action of the pipeline deploys (from the source artifact, or
    packaged from it), with the parameters the action passes (the pipeline's own variables
    filled in)."""
    (action,) = [action for resource in pipeline.template["Resources"].values()
                 if resource["Type"] == "AWS::CodePipeline::Pipeline"
                 for stage in resource["Properties"]["Stages"] for action in stage["Actions"]
                 if action["Name"] == action_name]
    config: dict[str, Any] = pipeline.resolve(action["Configuration"])
    overrides = re.sub(r"#\{([^}]+)\}", lambda m: PIPELINE_VARIABLES[m[1]],
                       config["ParameterOverrides"])
    path = REPO / PACKAGED.get(config["TemplatePath"],
                               config["TemplatePath"].removeprefix("SourceOutput::"))
    return Stack(load(path), json.loads(overrides), config["StackName"])


@pytest.fixture(scope="module")
def stacks(templates: dict[str, Path]) -> dict[str, Stack]:
    """The pipeline stack, and the training, API and batch-inference stacks as the pipeline
    deploys them."""
    boundary = DATA["constants"]["boundary"]
    pipeline = Stack(load(templates["pipeline"]), {
        "ProjectName": PROJECT, "BranchName": "main",
        "CodeConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/"
                             "00000000-0000-0000-0000-000000000000"}, f"{PROJECT}-pipeline")
    return {"pipeline": pipeline,
            "training": deployed_by(pipeline, "DeployTrainingWorkflow"),
            "api": Stack(load(templates["api"]), {"EndpointName": f"{PROJECT}-prod",
                                                  "PermissionsBoundaryArn": boundary},
                         f"{PROJECT}-api"),
            "batch-inference": deployed_by(pipeline, "DeployBatchInference")}


def principal_of(spec: dict, stacks: dict[str, Stack]) -> Principal:
    stack = stacks[spec["template"]]
    logical = spec.get("role")
    if "project" in spec:  # a CodeBuild project: the role it runs with
        service_role = stack.template["Resources"][spec["project"]]["Properties"]["ServiceRole"]
        logical = service_role["Fn::GetAtt"][0]
    return role(stack, logical, stacks.values())


@pytest.fixture(scope="module")
def listed(stacks: dict[str, Stack]) -> dict[str, Listed]:
    found = {}
    for spec in DATA["principals"]:
        name = spec.get("project") or spec["role"]
        calls = [_call(entry, caller) for caller, entries in spec["callers"].items()
                 for entry in entries]
        refused = [_call(entry, "refused") for entry in spec.get("refused", [])]
        found[name] = Listed(principal_of(spec, stacks), calls, refused)
    return found


def missing(principal: Principal, calls: list[Call]) -> list[str]:
    """One line per call the principal may not make: who makes it, the call, the verdict."""
    return [f"{principal.name}: {call.caller}: {call} -> {verdict}" for call in calls
            if (verdict := principal.decide(call)) != "Allow"]


NAMES = [spec.get("project") or spec["role"] for spec in DATA["principals"]]


@pytest.mark.parametrize("name", NAMES)
def test_role_allows_every_call_its_code_and_resources_make(listed: dict[str, Listed], name: str):
    assert missing(listed[name].principal, listed[name].calls) == []


@pytest.mark.parametrize("name", NAMES)
def test_role_refuses_what_it_does_not_need(listed: dict[str, Listed], name: str):
    granted = [str(call) for call in listed[name].refused
               if listed[name].principal.decide(call) == "Allow"]
    assert granted == []


def test_every_role_of_the_templates_is_listed(stacks: dict[str, Stack]):
    roles = {(template, logical) for template, stack in stacks.items()
             for logical, resource in stack.template["Resources"].items()
             if resource["Type"] == "AWS::IAM::Role"}
    covered = {(spec["template"], principal_of(spec, stacks).name) for spec in DATA["principals"]}
    assert covered == roles


def test_every_build_project_is_listed(stacks: dict[str, Stack]):
    projects = {logical for logical, resource in stacks["pipeline"].template["Resources"].items()
                if resource["Type"] == "AWS::CodeBuild::Project"}
    assert projects == {spec["project"] for spec in DATA["principals"] if "project" in spec}


def test_a_missing_permission_is_named(listed: dict[str, Listed]):
    """Planted gaps: for every listed call, the role without the action that call needs (taken
    out of every statement that allows it) must fail the check, naming that call."""
    unnoticed = []
    for listing in listed.values():
        for call in listing.calls:
            gap = without(listing.principal, call.action)
            if not any(f": {call} -> " in line for line in missing(gap, [call])):
                unnoticed.append(f"{listing.principal.name}: {call}")
    assert unnoticed == []


@pytest.mark.parametrize("role_name, action, named", [
    # Item by item, the defects the review found, each named by the check.
    ("PipelineRole", "s3:PutObjectAcl", "Source action (CodeStarSourceConnection"),
    ("PipelineRole", "cloudformation:DescribeStackEvents", "A failed deploy action"),
    ("SageMakerExecutionRole", "cloudwatch:DescribeAlarms", "Endpoint (pulls the image"),
])
def test_the_reviewed_defects_are_named(listed: dict[str, Listed], role_name: str, action: str,
                                        named: str):
    listing = listed[role_name]
    lines = missing(without(listing.principal, action), listing.calls)
    assert lines and all(action in line and named in line for line in lines), lines


def test_one_shared_build_role_would_be_refused(listed: dict[str, Listed]):
    """The defect of one role for every build: the unit tests with all builds' permissions
    may push images, start the training and overwrite artifacts; the check says so."""
    builds = [listing for name, listing in listed.items() if name.endswith("Project")]
    shared = Principal("SharedBuildRole", [s for b in builds for s in b.principal.statements])
    unit_tests = listed["UnitTestsProject"]
    granted = {call.action for call in unit_tests.refused if shared.decide(call) == "Allow"}
    assert {"ecr:PutImage", "s3:PutObject", "states:StartExecution",
            "sagemaker:InvokeEndpoint"} <= granted


def test_no_build_passes_a_role_or_runs_a_job(listed: dict[str, Listed]):
    """The training runs in the state machine: no build may pass the SageMaker role or start
    a SageMaker job itself, whatever its buildspec is changed to call."""
    builds = [listing for name, listing in listed.items() if name.endswith("Project")]
    shared = Principal("SharedBuildRole", [s for b in builds for s in b.principal.statements])
    for call in (Call("iam:PassRole", DATA["constants"]["sagemaker_role"],
                      {"iam:PassedToService": "sagemaker.amazonaws.com"}, "any build"),
                 Call("sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:us-east-1:123456789012:"
                      f"training-job/{PROJECT}-train-1", {}, "any build")):
        assert shared.decide(call) != "Allow", call


@pytest.mark.parametrize("call", [
    "sagemaker:CreateTrainingJob {sm}:training-job/other-project-train-1",
    "sagemaker:CreateProcessingJob {sm}:processing-job/other-project-prep-1"])
def test_the_training_boundary_is_what_keeps_the_state_machine_to_the_projects_jobs(
        listed: dict[str, Listed], call: str):
    """The exported workflow's own policy names every job of the account; deployed by the
    pipeline, its role gets the pipeline's training boundary, which names the project's."""
    state_machine = listed["StateMachineRole"].principal
    assert state_machine.boundary is not None
    refused = _call(call, "refused")
    assert state_machine.decide(refused) == "ImplicitDeny (permissions boundary)"
    assert replace(state_machine, boundary=None).decide(refused) == "Allow"
