"""Pipelines, created for real in the local CodePipeline through its API: the declaration is the
template's `AWS::CodePipeline::Pipeline` as CloudFormation renders it, nothing else (the local
pipeline runs what the stack created). `RestartExecutionOnUpdate` starts an execution after an
update, as in AWS; `DisableInboundStageTransitions` is recorded only (the local CodePipeline
keeps every transition enabled)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sagepipe.cloudformation.providers.base import (
    Context,
    ResourceFailed,
    ResourceProvider,
    call,
)
from sagepipe.cloudformation.providers.shapes import api_input


class Pipeline(ResourceProvider):
    """`Ref` is the pipeline's name; `Fn::GetAtt Version` its version. A new name replaces
    it, anything else is an update (a new version)."""

    type_name, name_property = "AWS::CodePipeline::Pipeline", "Name"
    emulated = True
    updatable = frozenset({
        "ArtifactStore", "ArtifactStores", "DisableInboundStageTransitions", "ExecutionMode",
        "PipelineType", "RestartExecutionOnUpdate", "RoleArn", "Stages", "Tags", "Triggers",
        "Variables"})

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        try:
            version = ctx.client("codepipeline").get_pipeline(name=name)["pipeline"]["version"]
        except ClientError:
            version = 1  # not created yet: the version it will have
        return {"Version": str(version)}

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        call(ctx.client("codepipeline").create_pipeline, pipeline=declaration(name, props),
             **({"tags": api_input("codepipeline", "CreatePipeline", None,
                                   {"Tags": props["Tags"]})["tags"]}
                if props.get("Tags") else {}))

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        api = ctx.client("codepipeline")
        call(api.update_pipeline, pipeline=declaration(name, new))
        if str(new.get("RestartExecutionOnUpdate", "false")).lower() == "true":
            call(api.start_pipeline_execution, name=name)

    def delete(self, ctx: Context, name: str) -> None:
        try:
            ctx.client("codepipeline").delete_pipeline(name=name)
        except ClientError as exc:
            error = exc.response["Error"]
            raise ResourceFailed(f"{error.get('Code')}: {error.get('Message')}") from None


def declaration(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """CreatePipeline's `pipeline` from the resource's properties. CloudFormation lists the
    artifact stores of a cross-region pipeline as [{Region, ArtifactStore}], the API maps them
    by region."""
    pipeline = api_input("codepipeline", "CreatePipeline", "pipeline",
                         {k: v for k, v in props.items() if k != "ArtifactStores"})
    if props.get("ArtifactStores"):
        pipeline["artifactStores"] = {
            store["Region"]: api_input("codepipeline", "CreatePipeline", "pipeline",
                                       {"ArtifactStore": store["ArtifactStore"]})["artifactStore"]
            for store in props["ArtifactStores"]}
    return {**pipeline, "name": name}
