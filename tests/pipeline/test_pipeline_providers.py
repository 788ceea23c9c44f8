"""The CloudFormation types of the pipeline stack that the local CodeBuild and CodePipeline
create for real: their properties, as CloudFormation renders them from the template, reach the
APIs in the APIs' own shapes."""

from __future__ import annotations

import uuid

import pytest

from sagepipe.cloudformation.providers import Context, ResourceFailed, provider_for


def test_a_codebuild_project_from_its_template_properties(local_aws, aws):
    ctx, provider = Context(local_aws), provider_for("AWS::CodeBuild::Project")
    name = f"p-{uuid.uuid4().hex[:8]}"
    props = {"Name": name, "ServiceRole": "arn:aws:iam::000000000000:role/r",
             "Source": {"Type": "CODEPIPELINE", "BuildSpec": "ci/build.yml"},
             "Artifacts": {"Type": "CODEPIPELINE"}, "TimeoutInMinutes": "30",
             "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL",
                             "Image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
                             "EnvironmentVariables": [{"Name": "A", "Value": "1"}]},
             "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED", "GroupName": "/g",
                                               "StreamName": "s"}}}
    provider.create(ctx, name, props)
    project = aws("codebuild").batch_get_projects(names=[name])["projects"][0]
    assert project["source"] == {"type": "CODEPIPELINE", "buildspec": "ci/build.yml"}
    assert project["environment"]["environmentVariables"] == [{"name": "A", "value": "1"}]
    assert project["timeoutInMinutes"] == 30
    assert project["logsConfig"]["cloudWatchLogs"]["streamName"] == "s"
    assert provider.attributes(ctx, name)["Arn"] == project["arn"]
    assert not provider.needs_replacement(props, {**props, "TimeoutInMinutes": "5"})
    provider.update(ctx, name, props, {**props, "TimeoutInMinutes": "5"})
    assert aws("codebuild").batch_get_projects(names=[name])["projects"][0][
        "timeoutInMinutes"] == 5
    provider.delete(ctx, name)
    assert aws("codebuild").batch_get_projects(names=[name])["projectsNotFound"] == [name]


def test_a_pipeline_from_its_template_properties(local_aws, aws):
    ctx, provider = Context(local_aws), provider_for("AWS::CodePipeline::Pipeline")
    name = f"pl-{uuid.uuid4().hex[:8]}"
    connection = aws("codeconnections").create_connection(
        ProviderType="GitHub", ConnectionName="c")["ConnectionArn"]
    props = {
        "Name": name, "RoleArn": "arn:aws:iam::000000000000:role/p", "PipelineType": "V2",
        "ExecutionMode": "QUEUED", "RestartExecutionOnUpdate": False,
        "ArtifactStore": {"Type": "S3", "Location": "bucket"},
        "Triggers": [{"ProviderType": "CodeStarSourceConnection", "GitConfiguration": {
            "SourceActionName": "Source", "Push": [{"Branches": {"Includes": ["main"]}}]}}],
        "Stages": [
            {"Name": "Source", "Actions": [{
                "Name": "Source", "Namespace": "SourceVariables",
                "ActionTypeId": {"Category": "Source", "Owner": "AWS",
                                 "Provider": "CodeStarSourceConnection", "Version": "1"},
                "OutputArtifacts": [{"Name": "Out"}], "RunOrder": 1,
                "Configuration": {"ConnectionArn": connection, "FullRepositoryId": f"me/{name}",
                                  "BranchName": "main"}}]},
            {"Name": "Approve", "Actions": [{
                "Name": "Ok", "ActionTypeId": {"Category": "Approval", "Owner": "AWS",
                                               "Provider": "Manual", "Version": "1"}}]}]}
    provider.create(ctx, name, props)
    pipeline = aws("codepipeline").get_pipeline(name=name)["pipeline"]
    assert pipeline["executionMode"] == "QUEUED"
    assert pipeline["triggers"][0]["gitConfiguration"]["push"][0]["branches"] == {
        "includes": ["main"]}
    assert pipeline["stages"][0]["actions"][0]["configuration"]["FullRepositoryId"] == \
        f"me/{name}"
    assert pipeline["stages"][0]["actions"][0]["namespace"] == "SourceVariables"
    assert provider.attributes(ctx, name) == {"Version": "1"}
    updated = {**props, "ExecutionMode": "SUPERSEDED"}
    assert not provider.needs_replacement(props, updated)
    provider.update(ctx, name, props, updated)
    assert provider.attributes(ctx, name) == {"Version": "2"}
    provider.delete(ctx, name)
    api = aws("codepipeline")
    with pytest.raises(api.exceptions.PipelineNotFoundException):
        api.get_pipeline(name=name)


def test_a_pipeline_the_local_aws_cannot_run_fails_the_resource_with_the_reason(local_aws):
    ctx, provider = Context(local_aws), provider_for("AWS::CodePipeline::Pipeline")
    props = {"RoleArn": "arn:aws:iam::000000000000:role/p",
             "ArtifactStore": {"Type": "S3", "Location": "bucket"},
             "Stages": [{"Name": s, "Actions": [{"Name": "A", "ActionTypeId": {
                 "Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}}]}
                 for s in ("One", "Two")]}
    with pytest.raises(ResourceFailed, match=r"InvalidStructureException|Lambda"):
        provider.create(ctx, f"bad-{uuid.uuid4().hex[:8]}", props)
