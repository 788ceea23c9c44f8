"""Types the local AWS records in a stack without creating them (the pipeline stack's build
projects and pipeline): only their identity matters locally, what `Ref` and `Fn::GetAtt`
return, so that templates referring to them render as in AWS. A provider that creates one for
real replaces its class here by its own module, in the registry."""

from __future__ import annotations

from sagepipe.cloudformation.providers.base import Context, ResourceProvider


class Project(ResourceProvider):
    type_name, name_property = "AWS::CodeBuild::Project", "Name"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("codebuild", f"project/{name}")}


class Pipeline(ResourceProvider):
    type_name, name_property = "AWS::CodePipeline::Pipeline", "Name"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("codepipeline", name)}
