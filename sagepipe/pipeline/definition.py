"""The pipeline as the template defines it: stages, actions, CodeBuild projects, artifact store.

The pipeline template is rendered as CloudFormation would create it (parameters, conditions,
intrinsics via the local CloudFormation's renderer); the physical names that `Ref` and
`Fn::GetAtt` return are those CloudFormation gives named resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagepipe.cloudformation import template as tpl
from sagepipe.config import ACCOUNT_ID, DEFAULT_REGION

# Which property names a resource, and what Ref / GetAtt return for it.
NAME_PROPERTY = {
    "AWS::CodeBuild::Project": "Name", "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName", "AWS::SNS::Topic": "TopicName",
    "AWS::ECR::Repository": "RepositoryName", "AWS::CodePipeline::Pipeline": "Name",
    "AWS::Logs::LogGroup": "LogGroupName", "AWS::KMS::Key": "Description",
}


def identity(type_name: str, name: str) -> tuple[str, dict[str, str]]:
    region, account = DEFAULT_REGION, ACCOUNT_ID
    service = type_name.split("::")[1].lower()
    if type_name == "AWS::IAM::Role":
        role_arn = f"arn:aws:iam::{account}:role/{name}"
        return name, {"Arn": role_arn, "RoleId": f"AROA{name[:16].upper()}"}
    if type_name == "AWS::S3::Bucket":
        return name, {"Arn": f"arn:aws:s3:::{name}",
                      "DomainName": f"{name}.s3.amazonaws.com"}
    if type_name == "AWS::SNS::Topic":
        topic_arn = f"arn:aws:sns:{region}:{account}:{name}"
        return topic_arn, {"TopicArn": topic_arn, "TopicName": name}
    if type_name == "AWS::ECR::Repository":
        return name, {"Arn": f"arn:aws:ecr:{region}:{account}:repository/{name}",
                      "RepositoryUri": f"{account}.dkr.ecr.{region}.amazonaws.com/{name}"}
    return name, {"Arn": f"arn:aws:{service}:{region}:{account}:{name}"}


@dataclass
class Action:
    stage: str
    name: str
    category: str
    provider: str
    configuration: dict[str, Any]
    run_order: int = 1
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    namespace: str | None = None

    @property
    def label(self) -> str:
        return f"{self.stage}.{self.name}"


@dataclass
class Stage:
    name: str
    actions: list[Action]

    def run_groups(self) -> list[list[Action]]:
        """Actions grouped by RunOrder, lowest first (CodePipeline's sequencing)."""
        orders = sorted({a.run_order for a in self.actions})
        return [[a for a in self.actions if a.run_order == o] for o in orders]


@dataclass
class Pipeline:
    name: str
    stages: list[Stage]
    artifact_bucket: str
    projects: dict[str, dict[str, Any]]  # CodeBuild project name -> rendered properties
    parameters: dict[str, str]
    subscriptions: dict[str, list[str]] = field(default_factory=dict)  # topic ARN -> emails

    def action(self, label: str) -> Action:
        for stage in self.stages:
            for action in stage.actions:
                if action.label == label:
                    return action
        raise KeyError(label)


def _names(body: dict[str, Any], parameters: dict[str, str], stack: str) -> dict[str, Any]:
    """Render once with logical ids as names to learn each named resource's physical name."""
    rendered = tpl.render(body, parameters, {}, stack)
    identities = {}
    for logical, resource in body["Resources"].items():
        props = rendered["Resources"].get(logical, {}).get("Properties", {})
        name = props.get(NAME_PROPERTY.get(resource["Type"], ""), "") or f"{stack}-{logical}"
        identities[logical] = identity(resource["Type"], str(name))
    return identities


def load_pipeline(template_path: Path, parameters_path: Path | None) -> Pipeline:
    """Read the pipeline template and the local parameter values into a runnable Pipeline."""
    body = tpl.load(template_path)
    parameters = json.loads(parameters_path.read_text()) if parameters_path else {}
    stack = f"{parameters.get('ProjectName', 'sagepipe')}-pipeline"
    rendered = tpl.render(body, parameters, _names(body, parameters, stack), stack)
    resources = rendered["Resources"]
    pipelines = [r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::CodePipeline::Pipeline"]
    if len(pipelines) != 1:
        raise tpl.TemplateError(f"{template_path} must define exactly one "
                                f"AWS::CodePipeline::Pipeline (found {len(pipelines)})")
    props = pipelines[0]
    store = props.get("ArtifactStore") or props["ArtifactStores"][0]["ArtifactStore"]
    projects = {r["Properties"]["Name"]: r["Properties"] for r in resources.values()
                if r["Type"] == "AWS::CodeBuild::Project" and "Name" in r["Properties"]}
    stages = [Stage(s["Name"], [_action(s["Name"], a) for a in s["Actions"]])
              for s in props["Stages"]]
    return Pipeline(name=props.get("Name", stack), stages=stages,
                    artifact_bucket=store["Location"], projects=projects,
                    parameters={k: v.get("Value", "") for k, v in
                                rendered.get("Parameters", {}).items()},
                    subscriptions=_email_subscriptions(resources))


def _email_subscriptions(resources: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::SNS::Subscription" and props.get("Protocol") == "email":
            found.setdefault(props["TopicArn"], []).append(props["Endpoint"])
    return found


def _action(stage: str, spec: dict[str, Any]) -> Action:
    type_id = spec["ActionTypeId"]
    return Action(
        stage=stage, name=spec["Name"], category=type_id["Category"],
        provider=type_id["Provider"], configuration=spec.get("Configuration", {}),
        run_order=int(spec.get("RunOrder", 1)),
        inputs=[a["Name"] for a in spec.get("InputArtifacts", [])],
        outputs=[a["Name"] for a in spec.get("OutputArtifacts", [])],
        namespace=spec.get("Namespace"))
