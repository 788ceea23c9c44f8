"""The local CodeBuild on the wire (AWS JSON 1.1; botocore also lists smithy-rpc-v2-cbor for
it, but boto3 and the AWS CLI speak JSON to it today)."""

from __future__ import annotations

from sagepipe.codebuild.models import CodeBuild
from sagepipe.edge import AwsService


def codebuild_service(codebuild: CodeBuild) -> AwsService:
    return AwsService("codebuild", "CodeBuild", {
        "CreateProject": codebuild.create_project,
        "UpdateProject": codebuild.update_project,
        "DeleteProject": codebuild.delete_project,
        "BatchGetProjects": codebuild.batch_get_projects,
        "ListProjects": codebuild.list_projects,
        "StartBuild": codebuild.start_build,
        "BatchGetBuilds": codebuild.batch_get_builds,
        "ListBuildsForProject": codebuild.list_builds_for_project,
        "ListBuilds": codebuild.list_builds,
        "StopBuild": codebuild.stop_build,
    })
