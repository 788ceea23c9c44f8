"""A pipeline declaration (CreatePipeline's `pipeline`) read as stages and actions, and checked
as CodePipeline checks it: structure, artifacts flowing forward, unique names and namespaces,
and only the action types the local AWS runs (any other is refused, named)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagepipe.codepipeline.exceptions import (
    InvalidActionDeclarationException,
    InvalidStageDeclarationException,
    InvalidStructureException,
    ValidationException,
)

SOURCE = "CodeStarSourceConnection"
# (category, owner, provider) -> what the action needs in its configuration
SUPPORTED: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("Source", "AWS", SOURCE): ("ConnectionArn", "FullRepositoryId", "BranchName"),
    ("Build", "AWS", "CodeBuild"): ("ProjectName",),
    ("Test", "AWS", "CodeBuild"): ("ProjectName",),
    ("Deploy", "AWS", "CloudFormation"): ("ActionMode", "StackName"),
    ("Approval", "AWS", "Manual"): (),
    ("Invoke", "AWS", "StepFunctions"): ("StateMachineArn",),
}


@dataclass(frozen=True)
class Action:
    stage: str
    name: str
    category: str
    owner: str
    provider: str
    configuration: dict[str, str]
    run_order: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    namespace: str | None
    role_arn: str | None
    declared: dict[str, Any]  # as in the declaration (actionTypeId, ...), for ListActionExecutions

    @property
    def label(self) -> str:
        return f"{self.stage}.{self.name}"

    @property
    def type_key(self) -> tuple[str, str, str]:
        return self.category, self.owner, self.provider


@dataclass(frozen=True)
class Stage:
    name: str
    actions: tuple[Action, ...]

    def run_groups(self) -> list[list[Action]]:
        """Actions grouped by runOrder, lowest first: a group's actions run in parallel."""
        orders = sorted({a.run_order for a in self.actions})
        return [[a for a in self.actions if a.run_order == o] for o in orders]

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)


@dataclass(frozen=True)
class Declaration:
    name: str
    version: int
    stages: tuple[Stage, ...]
    artifact_bucket: str
    pipeline_type: str
    execution_mode: str
    triggers: tuple[dict[str, Any], ...]
    variables: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, pipeline: dict[str, Any]) -> Declaration:
        store: dict[str, Any] = pipeline.get("artifactStore") or next(iter(
            (pipeline.get("artifactStores") or {}).values()), {})
        return cls(
            name=pipeline["name"], version=int(pipeline.get("version", 1)),
            stages=tuple(Stage(s["name"], tuple(_action(s["name"], a) for a in s["actions"]))
                         for s in pipeline["stages"]),
            artifact_bucket=store.get("location", ""),
            pipeline_type=pipeline.get("pipelineType", "V1"),
            execution_mode=pipeline.get("executionMode", "SUPERSEDED"),
            triggers=tuple(pipeline.get("triggers") or ()),
            variables=tuple(pipeline.get("variables") or ()))

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def stage_index(self, name: str) -> int:
        return next(i for i, s in enumerate(self.stages) if s.name == name)

    def source_actions(self) -> list[Action]:
        return [a for a in self.stages[0].actions if a.category == "Source"]


def _action(stage: str, spec: dict[str, Any]) -> Action:
    type_id = spec["actionTypeId"]
    return Action(
        stage=stage, name=spec["name"], category=type_id["category"], owner=type_id["owner"],
        provider=type_id["provider"], configuration=dict(spec.get("configuration") or {}),
        run_order=int(spec.get("runOrder", 1)),
        inputs=tuple(a["name"] for a in spec.get("inputArtifacts") or []),
        outputs=tuple(a["name"] for a in spec.get("outputArtifacts") or []),
        namespace=spec.get("namespace"), role_arn=spec.get("roleArn"), declared=spec)


def validate(pipeline: dict[str, Any]) -> Declaration:
    """The declaration, if CodePipeline would accept it and the local AWS can run it."""
    if bool(pipeline.get("artifactStore")) == bool(pipeline.get("artifactStores")):
        raise InvalidStructureException("Pipeline must have exactly one of artifactStore and "
                                        "artifactStores")
    declaration = Declaration.of(pipeline)
    if len(declaration.stages) < 2:
        raise InvalidStructureException(f"Pipeline has only {len(declaration.stages)} stage(s). "
                                        "There should be a minimum of 2 stages in a pipeline")
    _unique([s.name for s in declaration.stages], "stage name", InvalidStageDeclarationException)
    for declared in pipeline["stages"]:
        unsupported = [k for k in ("onFailure", "onSuccess", "beforeEntry", "blockers")
                       if declared.get(k)]
        if unsupported:
            raise InvalidStageDeclarationException(
                f"Stage {declared['name']}: {', '.join(unsupported)} (stage conditions, "
                "automatic retry and rollback, blockers) are not emulated locally")
    for index, stage in enumerate(declaration.stages):
        if not stage.actions:
            raise InvalidStageDeclarationException(f"Stage {stage.name} has no actions")
        _unique([a.name for a in stage.actions], f"action name in stage {stage.name}",
                InvalidActionDeclarationException)
        for action in stage.actions:
            if (action.category == "Source") != (index == 0):
                raise InvalidStructureException(
                    "Pipeline must start with a stage that contains only source actions, and "
                    f"only that stage may contain them ({action.label} is a "
                    f"{action.category} action in stage {index + 1})")
    _unique([o for s in declaration.stages for a in s.actions for o in a.outputs],
            "output artifact name", InvalidStructureException)
    _unique([a.namespace for s in declaration.stages for a in s.actions if a.namespace],
            "namespace", InvalidActionDeclarationException)
    _check_types(declaration)
    _check_artifacts(declaration)
    _check_mode(declaration)
    return declaration


def _unique(names: list[str], what: str, error: type[Exception]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise error(f"Duplicate {what}: {name}")
        seen.add(name)


def _check_types(declaration: Declaration) -> None:
    actions = [a for s in declaration.stages for a in s.actions]
    unsupported = [f"{a.label} ({a.category}/{a.owner}/{a.provider})" for a in actions
                   if a.type_key not in SUPPORTED]
    if unsupported:
        supported = ", ".join(f"{c}/{o}/{p}" for c, o, p in SUPPORTED)
        raise InvalidActionDeclarationException(
            f"Action types not emulated locally: {', '.join(unsupported)} (the local "
            f"CodePipeline runs {supported})")
    for action in actions:
        missing = [k for k in SUPPORTED[action.type_key] if not action.configuration.get(k)]
        if missing:
            raise InvalidActionDeclarationException(
                f"Action configuration for action '{action.name}' is missing required "
                f"configuration '{missing[0]}'")
        if action.category == "Source" and (len(action.outputs) != 1 or action.inputs):
            raise InvalidActionDeclarationException(
                f"Action {action.label}: a source action has exactly one output artifact and no "
                "input artifact")
        if action.provider == "Manual" and (action.inputs or action.outputs):
            raise InvalidActionDeclarationException(
                f"Action {action.label}: a manual approval has no artifacts")
        if action.provider == "StepFunctions" and action.outputs:
            raise InvalidActionDeclarationException(
                f"Action {action.label}: the output artifact of a Step Functions action is not "
                "emulated locally (its output variables are: StateMachineArn, ExecutionArn)")


def _check_artifacts(declaration: Declaration) -> None:
    """Every input artifact is the output of an action that runs before (an earlier stage, or
    a lower runOrder in the same stage)."""
    produced: set[str] = set()
    for stage in declaration.stages:
        for group in stage.run_groups():
            for action in group:
                for name in action.inputs:
                    if name not in produced:
                        raise InvalidStructureException(
                            f"Input Artifact Bundle {name} in action {action.label} is not "
                            "declared as an output artifact of any preceding action")
            produced.update(o for action in group for o in action.outputs)


def _check_mode(declaration: Declaration) -> None:
    if declaration.pipeline_type != "V2" and (declaration.triggers or declaration.variables or
                                              declaration.execution_mode != "SUPERSEDED"):
        raise ValidationException("Triggers, variables and the QUEUED and PARALLEL execution "
                                  "modes need pipelineType V2")
    sources = {a.name for a in declaration.source_actions() if a.provider == SOURCE}
    for trigger in declaration.triggers:
        name = (trigger.get("gitConfiguration") or {}).get("sourceActionName")
        if name not in sources:
            raise ValidationException(f"Trigger sourceActionName {name} is not a "
                                      f"{SOURCE} source action of the pipeline")
