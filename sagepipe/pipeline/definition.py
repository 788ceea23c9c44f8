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
from sagepipe.cloudformation.providers import Context, provider_for
from sagepipe.config import Settings, default_home


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


def _names(body: dict[str, Any], parameters: dict[str, str], stack: str,
           ctx: Context) -> dict[str, Any]:
    """Render once with logical ids as names to learn each named resource's physical name
    (unnamed ones get `<stack>-<LogicalId>`), then ask each type's provider what `Ref` and
    `Fn::GetAtt` return for it."""
    rendered = tpl.render(body, parameters, {}, stack)
    identities = {}
    for logical, resource in body["Resources"].items():
        provider = provider_for(resource["Type"])
        props = rendered["Resources"].get(logical, {}).get("Properties", {})
        name = str(props.get(provider.name_property, "") if provider.name_property else "") \
            or f"{stack}-{logical}"
        identities[logical] = (provider.ref(ctx, name), provider.attributes(ctx, name))
    return identities


def load_pipeline(template_path: Path, parameters_path: Path | None,
                  settings: Settings | None = None) -> Pipeline:
    """Read the pipeline template and the local parameter values into a runnable Pipeline
    (`settings`: the local AWS it runs on, whose region the ARNs name)."""
    body = tpl.load(template_path)
    parameters = json.loads(parameters_path.read_text()) if parameters_path else {}
    stack = f"{parameters.get('ProjectName', 'sagepipe')}-pipeline"
    ctx = Context(settings or Settings(home=default_home()))
    rendered = tpl.render(body, parameters, _names(body, parameters, stack, ctx), stack)
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
