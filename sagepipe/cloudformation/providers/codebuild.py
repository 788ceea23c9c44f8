"""CodeBuild projects, created for real in the local CodeBuild through its API (the builds of a
project whose source is CODEPIPELINE are started by its pipeline)."""

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


class Project(ResourceProvider):
    """`Ref` is the project's name; a new name replaces it, anything else is updated."""

    type_name, name_property = "AWS::CodeBuild::Project", "Name"
    emulated = True
    updatable = frozenset({
        "Artifacts", "AutoRetryLimit", "BadgeEnabled", "BuildBatchConfig", "Cache",
        "ConcurrentBuildLimit", "Description", "EncryptionKey", "Environment",
        "FileSystemLocations", "LogsConfig", "QueuedTimeoutInMinutes", "ResourceAccessRole",
        "SecondaryArtifacts", "SecondarySources", "SecondarySourceVersions", "ServiceRole",
        "Source", "SourceVersion", "Tags", "TimeoutInMinutes", "Triggers", "Visibility",
        "VpcConfig"})

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("codebuild", f"project/{name}")}

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        call(ctx.client("codebuild").create_project, **self.params(name, props))

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        call(ctx.client("codebuild").update_project, **self.params(name, new))

    def delete(self, ctx: Context, name: str) -> None:
        try:
            ctx.client("codebuild").delete_project(name=name)
        except ClientError as exc:
            error = exc.response["Error"]
            raise ResourceFailed(f"{error.get('Code')}: {error.get('Message')}") from None

    @staticmethod
    def params(name: str, props: dict[str, Any]) -> dict[str, Any]:
        return {**api_input("codebuild", "CreateProject", None, props), "name": name}
