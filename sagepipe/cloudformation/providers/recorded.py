"""Types the local AWS records in a stack without creating them (the pipeline stack's roles,
build projects, pipeline, log group): only their identity matters locally, what `Ref` and
`Fn::GetAtt` return, so that templates referring to them render as in AWS. A provider that
creates one for real replaces its class here by its own module, in the registry."""

from __future__ import annotations

from sagepipe.cloudformation.providers.base import Context, ResourceProvider


class Role(ResourceProvider):
    type_name, name_property = "AWS::IAM::Role", "RoleName"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("iam", f"role/{name}"), "RoleId": f"AROA{name[:16].upper()}"}


class Project(ResourceProvider):
    type_name, name_property = "AWS::CodeBuild::Project", "Name"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("codebuild", f"project/{name}")}


class Pipeline(ResourceProvider):
    type_name, name_property = "AWS::CodePipeline::Pipeline", "Name"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("codepipeline", name)}


class LogGroup(ResourceProvider):
    type_name, name_property = "AWS::Logs::LogGroup", "LogGroupName"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("logs", f"log-group:{name}:*")}
