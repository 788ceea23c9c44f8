"""Read pipeline.yaml, endpoint.yaml, batch-inference.yaml, the training workflow's template,
the stage configurations and the buildspecs as data."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from cfnlint.decode import cfn_yaml
from testkit import chalice_package

REPO = Path(__file__).resolve().parents[2]
PIPELINE = REPO / "CodePipeline" / "pipeline.yaml"
ENDPOINT = REPO / "CloudFormation" / "endpoint.yaml"
BATCH_INFERENCE = REPO / "CloudFormation" / "batch-inference.yaml"
TRAINING = REPO / "workflows" / "templates" / "titanic_train.yaml"  # the Build stage deploys it
TEMPLATES = (PIPELINE, ENDPOINT, BATCH_INFERENCE, TRAINING)

PIPELINE_VARIABLE = re.compile(r"#\{([A-Za-z0-9@_-]+)\.([A-Za-z0-9@_-]+)\}")
SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@cache
def packaged_api() -> dict[str, Any]:
    """chalice-api/ packaged as the PackageApi build packages it (the DeployApi template before
    `aws cloudformation package` rewrites its code location)."""
    with tempfile.TemporaryDirectory() as out:
        chalice_package(Path(out), "--stage", "prod", "--merge-template",
                        "../CodePipeline/api-parameters.json")
        return json.loads((Path(out) / "sam.json").read_text())


@cache
def template(path: Path) -> dict[str, Any]:
    """A template with its intrinsic functions in long form ({"Fn::Sub": ...})."""
    return cfn_yaml.load(str(path))


def resources(path: Path, resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: resource.get("Properties", {})
            for name, resource in template(path)["Resources"].items()
            if resource["Type"] == resource_type}


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """Resolve a plain or `Fn::Sub` string with `variables`; unknown ${...} stay as they are."""
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        value = value["Fn::Sub"]
    if not isinstance(value, str):
        return value
    return SUB_VARIABLE.sub(lambda match: variables.get(match.group(1), match.group(0)), value)


@dataclass(frozen=True)
class Action:
    stage: str
    stage_index: int
    name: str
    run_order: int
    category: str
    provider: str
    namespace: str | None
    configuration: dict[str, Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def runs_before(self, other: Action) -> bool:
        return (self.stage_index, self.run_order) < (other.stage_index, other.run_order)

    def project(self) -> dict[str, Any]:
        """Properties of the CodeBuild project a CodeBuild action runs."""
        projects = resources(PIPELINE, "AWS::CodeBuild::Project")
        return projects[self.configuration["ProjectName"]["Ref"]]

    def buildspec_path(self) -> str:
        return self.project()["Source"]["BuildSpec"]

    def environment_overrides(self) -> list[dict[str, str]]:
        """The action's `EnvironmentVariables` configuration (a JSON string) as a list."""
        return json.loads(self.configuration.get("EnvironmentVariables", "[]"))


def pipeline_actions() -> list[Action]:
    """Every action of the pipeline, in the order they run."""
    (properties,) = resources(PIPELINE, "AWS::CodePipeline::Pipeline").values()
    found = [
        Action(stage=stage["Name"], stage_index=index, name=action["Name"],
               run_order=action.get("RunOrder", 1),
               category=action["ActionTypeId"]["Category"],
               provider=action["ActionTypeId"]["Provider"],
               namespace=action.get("Namespace"),
               configuration=action.get("Configuration", {}),
               inputs=tuple(a["Name"] for a in action.get("InputArtifacts", [])),
               outputs=tuple(a["Name"] for a in action.get("OutputArtifacts", [])))
        for index, stage in enumerate(properties["Stages"])
        for action in stage["Actions"]]
    return sorted(found, key=lambda action: (action.stage_index, action.run_order))


def action(name: str) -> Action:
    (found,) = [a for a in pipeline_actions() if a.name == name]
    return found


def buildspec(relative_path: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / relative_path).read_text())


def exported_variables(relative_path: str) -> list[str]:
    return buildspec(relative_path).get("env", {}).get("exported-variables", [])


def artifact_path(artifact_path: str) -> tuple[str, str]:
    """`BuildOutput::CloudFormation/endpoint.yaml` -> ("BuildOutput", "CloudFormation/...")."""
    artifact, _, path = artifact_path.partition("::")
    return artifact, path


def glob_matches(pattern: str, path: str) -> bool:
    """CodeBuild artifact glob semantics: `**/` spans directories, `*` stays within one."""
    regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, path) is not None


def parameter_accepts(declaration: dict[str, Any], value: str) -> bool:
    """Whether CloudFormation takes `value` for a parameter declared as `declaration`."""
    if "AllowedValues" in declaration and value not in declaration["AllowedValues"]:
        return False
    if "AllowedPattern" in declaration and not re.fullmatch(declaration["AllowedPattern"], value):
        return False
    if declaration["Type"] == "Number":
        number = float(value)
        return declaration.get("MinValue", number) <= number <= declaration.get("MaxValue", number)
    return True
