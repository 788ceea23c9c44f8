"""The local CodePipeline on the wire (AWS JSON 1.1; botocore also lists smithy-rpc-v2-cbor for
it, but boto3 and the AWS CLI speak JSON to it today), and the internal routes of its local Git
remotes (signed, plain JSON, sagepipe/internal.py):

    POST /_sagepipe/git/pushes        {"repository": "owner/name", "updates": [{"ref", "old",
                                      "new"}]}: what a push updated (the remote's hook) ->
                                      {"executions": [{"pipelineName", "pipelineExecutionId"}]}
    GET  /_sagepipe/git/repositories  [{"FullRepositoryId", "url"}]: the remotes, for
                                      `sagepipe remote`
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from sagepipe.codepipeline.models import CodePipeline
from sagepipe.edge import AwsService, Handler

ROUTES = {
    ("POST", "/_sagepipe/git/pushes"): "GitPushes",
    ("GET", "/_sagepipe/git/repositories"): "GitRepositories",
}


def codepipeline_service(codepipeline: CodePipeline) -> AwsService:
    return AwsService("codepipeline", "CodePipeline", {
        "CreatePipeline": codepipeline.create_pipeline,
        "UpdatePipeline": codepipeline.update_pipeline,
        "DeletePipeline": codepipeline.delete_pipeline,
        "GetPipeline": codepipeline.get_pipeline,
        "ListPipelines": codepipeline.list_pipelines,
        "StartPipelineExecution": codepipeline.start_pipeline_execution,
        "StopPipelineExecution": codepipeline.stop_pipeline_execution,
        "GetPipelineState": codepipeline.get_pipeline_state,
        "GetPipelineExecution": codepipeline.get_pipeline_execution,
        "ListPipelineExecutions": codepipeline.list_pipeline_executions,
        "ListActionExecutions": codepipeline.list_action_executions,
        "RetryStageExecution": codepipeline.retry_stage_execution,
        "PutApprovalResult": codepipeline.put_approval_result,
    })


def git_handlers(codepipeline: CodePipeline) -> dict[str, Handler]:
    return {
        "GitPushes": codepipeline.git_pushes,
        "GitRepositories": lambda params: JSONResponse(codepipeline.git_repositories(params)),
    }
