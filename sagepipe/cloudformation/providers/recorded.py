"""Types the local AWS records in a stack without creating them (the pipeline stack's bucket,
topic, repository, build projects, ...): only their identity matters locally, what `Ref`
and `Fn::GetAtt` return, so that templates referring to them render as in AWS. A provider that
creates one for real replaces its class here by its own module, in the registry."""

from __future__ import annotations

from sagepipe.cloudformation.providers.base import Context, ResourceProvider


class Bucket(ResourceProvider):
    type_name, name_property = "AWS::S3::Bucket", "BucketName"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("s3", name), "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com"}


class Topic(ResourceProvider):
    """`Ref` of a topic is its ARN."""

    type_name, name_property = "AWS::SNS::Topic", "TopicName"

    def ref(self, ctx: Context, name: str) -> str:
        return ctx.arn("sns", name)

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"TopicArn": ctx.arn("sns", name), "TopicName": name}


class Repository(ResourceProvider):
    type_name, name_property = "AWS::ECR::Repository", "RepositoryName"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("ecr", f"repository/{name}"),
                "RepositoryUri": f"{ctx.account}.dkr.ecr.{ctx.region}.amazonaws.com/{name}"}


class Project(ResourceProvider):
    type_name, name_property = "AWS::CodeBuild::Project", "Name"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("codebuild", f"project/{name}")}


class Pipeline(ResourceProvider):
    type_name, name_property = "AWS::CodePipeline::Pipeline", "Name"

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("codepipeline", name)}

