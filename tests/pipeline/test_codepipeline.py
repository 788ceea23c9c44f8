"""The local CodePipeline runs whatever pipeline is declared, inside the local AWS: a push to
its local Git remote starts it, artifacts and variables pass between actions, builds run in the
local CodeBuild, and the API follows, approves, rejects, stops, retries and supersedes
executions as CodePipeline does. (The CloudFormation deploy and the SNS approval e-mail are in
test_real_pipeline.py and test_four_doors.py, with the pipeline created from its template.)"""

from __future__ import annotations

import copy
import json
import os
import signal
import time

import pytest
from testkit import client_for, free_port
from tiny_kit import Tiny, commit, make_repo

from sagepipe import instances
from sagepipe.config import Settings
from sagepipe.server import start_background, stop

UP_TO_THE_GATE = ["Checkout", "Make", "Gate"]


def approve(tiny: Tiny, status: str = "Approved", summary: str = "looks good") -> str:
    token = tiny.token()
    tiny.api.put_approval_result(pipelineName=tiny.name, stageName="Gate", actionName="Review",
                                 token=token, result={"summary": summary, "status": status})
    return token


def build_log(aws, build_id: str) -> str:
    """A build's log, from its CloudWatch log stream."""
    logs = aws("codebuild").batch_get_builds(ids=[build_id])["builds"][0]["logs"]
    events = aws("logs").get_log_events(logGroupName=logs["groupName"],
                                        logStreamName=logs["streamName"], startFromHead=True)
    return "\n".join(e["message"] for e in events["events"])


def only_execution(tiny: Tiny) -> str:
    executions = tiny.executions()
    assert len(executions) == 1, executions
    return executions[0]["pipelineExecutionId"]


def test_a_push_runs_the_declared_stages_passing_artifacts_and_variables(local_aws, aws,
                                                                         tmp_path):
    tiny = Tiny(local_aws, aws, stages=UP_TO_THE_GATE)
    assert tiny.executions() == []  # an empty remote: nothing to build on creation
    repo = make_repo(tmp_path)
    head = commit(repo, "first")
    pushed = tiny.push(repo)
    execution_id = only_execution(tiny)
    assert f"pipeline {tiny.name} started execution {execution_id}" in pushed
    approve(tiny)
    execution = tiny.wait(execution_id)
    assert execution["status"] == "Succeeded"
    assert execution["trigger"] == {"triggerType": "Webhook", "triggerDetail": tiny.connection}
    assert [(r["name"], r["revisionId"]) for r in execution["artifactRevisions"]] == [
        ("Code", head)]
    actions = tiny.actions(execution_id)
    assert list(actions) == ["Checkout.Code", "Make.Compile", "Gate.Review"]
    assert {a["status"] for a in actions.values()} == {"Succeeded"}
    source = actions["Checkout.Code"]["output"]["outputVariables"]
    assert source["CommitId"] == head and source["BranchName"] == "main"
    assert source["FullRepositoryName"] == tiny.repository
    make = actions["Make.Compile"]
    assert make["input"]["resolvedConfiguration"]["EnvironmentVariables"] == \
        f'[{{"name":"COMMIT","value":"{head}"}}]'
    assert make["input"]["inputArtifacts"] == actions["Checkout.Code"]["output"][
        "outputArtifacts"]
    assert make["output"]["outputVariables"] == {"GREETING": "hello-vanilla"}
    built = make["output"]["outputArtifacts"][0]["s3location"]
    assert built["key"].startswith(f"{tiny.name}/Built/")
    aws("s3").head_object(Bucket=built["bucket"], Key=built["key"])  # the zip is in the store
    build = aws("codebuild").batch_get_builds(
        ids=[make["output"]["executionResult"]["externalExecutionId"]])["builds"][0]
    assert build["resolvedSourceVersion"] == head
    assert build["initiator"] == f"codepipeline/{tiny.name}"
    review = actions["Gate.Review"]
    assert review["input"]["resolvedConfiguration"] == {
        "CustomData": "greeting hello-vanilla", "ExternalEntityLink":
        f"https://example.com/{head}"}
    assert review["output"]["executionResult"]["externalExecutionSummary"] == "looks good"
    state = {s["stageName"]: s for s in tiny.api.get_pipeline_state(name=tiny.name)[
        "stageStates"]}
    assert state["Gate"]["latestExecution"] == {"pipelineExecutionId": execution_id,
                                                "status": "Succeeded"}
    assert "token" not in state["Gate"]["actionStates"][0]["latestExecution"]
    assert state["Checkout"]["actionStates"][0]["currentRevision"]["revisionId"] == head


def test_a_failed_build_stops_the_execution_and_a_retry_resumes_it(local_aws, aws, s3,
                                                                   tmp_path):
    tiny = Tiny(local_aws, aws, stages=UP_TO_THE_GATE)
    s3.put_object(Bucket=tiny.bucket, Key="make-fails", Body=b"")
    tiny.push(make_repo(tmp_path))
    execution_id = only_execution(tiny)
    execution = tiny.wait(execution_id)
    assert execution["status"] == "Failed"
    assert tiny.statuses(execution_id) == {"Checkout.Code": "Succeeded",
                                           "Make.Compile": "Failed"}
    failed = tiny.actions(execution_id)["Make.Compile"]["output"]["executionResult"]
    assert failed["errorDetails"]["message"].startswith(
        "Build terminated with state: FAILED. Phase: BUILD, Code: COMMAND_EXECUTION_ERROR, "
        "Message: Error while executing command: marker() {")
    log = build_log(aws, failed["externalExecutionId"])
    assert "make fails on purpose" in log and "Command did not exit successfully" in log
    state = {s["stageName"]: s for s in tiny.api.get_pipeline_state(name=tiny.name)[
        "stageStates"]}
    assert state["Make"]["latestExecution"]["status"] == "Failed"
    assert "latestExecution" not in state["Gate"]

    s3.delete_object(Bucket=tiny.bucket, Key="make-fails")
    tiny.api.retry_stage_execution(pipelineName=tiny.name, stageName="Make",
                                   pipelineExecutionId=execution_id, retryMode="FAILED_ACTIONS")
    approve(tiny)
    assert tiny.wait(execution_id)["status"] == "Succeeded"
    assert tiny.statuses(execution_id) == {"Checkout.Code": "Succeeded",
                                           "Make.Compile": "Succeeded",
                                           "Gate.Review": "Succeeded"}
    with pytest.raises(tiny.api.exceptions.StageNotRetryableException):
        tiny.api.retry_stage_execution(pipelineName=tiny.name, stageName="Make",
                                       pipelineExecutionId=execution_id,
                                       retryMode="ALL_ACTIONS")


def test_a_rejection_fails_the_execution_and_approval_tokens_are_checked(local_aws, aws,
                                                                         tmp_path):
    tiny = Tiny(local_aws, aws, stages=UP_TO_THE_GATE)
    tiny.push(make_repo(tmp_path))
    execution_id = only_execution(tiny)
    token = tiny.token()
    with pytest.raises(tiny.api.exceptions.InvalidApprovalTokenException):
        tiny.api.put_approval_result(
            pipelineName=tiny.name, stageName="Gate", actionName="Review",
            token="00000000-0000-0000-0000-000000000000",
            result={"summary": "x", "status": "Approved"})
    with pytest.raises(tiny.api.exceptions.ActionNotFoundException):
        tiny.api.put_approval_result(pipelineName=tiny.name, stageName="Gate",
                                     actionName="Nope", token=token,
                                     result={"summary": "x", "status": "Approved"})
    tiny.api.put_approval_result(pipelineName=tiny.name, stageName="Gate",
                                 actionName="Review", token=token,
                                 result={"summary": "not today", "status": "Rejected"})
    with pytest.raises(tiny.api.exceptions.ApprovalAlreadyCompletedException):
        tiny.api.put_approval_result(pipelineName=tiny.name, stageName="Gate",
                                     actionName="Review", token=token,
                                     result={"summary": "changed my mind",
                                             "status": "Approved"})
    assert tiny.wait(execution_id)["status"] == "Failed"
    review = tiny.actions(execution_id)["Gate.Review"]
    assert review["status"] == "Failed"
    assert review["output"]["executionResult"]["errorDetails"] == {
        "code": "Rejected", "message": "Rejected: not today"}


def test_action_types_it_cannot_run_are_refused_at_creation_naming_them(local_aws, aws):
    tiny = Tiny(local_aws, aws, stages=UP_TO_THE_GATE)
    declaration = {**copy.deepcopy(tiny.declaration), "name": f"{tiny.name}-x"}
    gate = declaration["stages"][2]["actions"][0]
    gate["actionTypeId"] = {**gate["actionTypeId"], "provider": "ServiceCatalog"}
    with pytest.raises(tiny.api.exceptions.InvalidActionDeclarationException,
                       match=r"Gate\.Review \(Approval/AWS/ServiceCatalog\)"):
        tiny.api.create_pipeline(pipeline=declaration)
    gate["actionTypeId"] = {**gate["actionTypeId"], "provider": "Manual"}
    declaration["stages"][1]["actions"][0]["inputArtifacts"] = [{"name": "Nowhere"}]
    with pytest.raises(tiny.api.exceptions.InvalidStructureException, match="Nowhere"):
        tiny.api.create_pipeline(pipeline=declaration)
    declaration["stages"][1]["actions"][0]["inputArtifacts"] = [{"name": "Code"}]
    declaration["stages"][1]["onFailure"] = {"result": "ROLLBACK"}
    with pytest.raises(tiny.api.exceptions.InvalidStageDeclarationException,
                       match=r"Stage Make: onFailure .* not emulated locally"):
        tiny.api.create_pipeline(pipeline=declaration)
    with pytest.raises(tiny.api.exceptions.PipelineNameInUseException):
        tiny.api.create_pipeline(pipeline=tiny.declaration)
    with pytest.raises(tiny.api.exceptions.PipelineNotFoundException):
        tiny.api.get_pipeline(name=f"{tiny.name}-x")


def test_a_v2_trigger_starts_it_only_for_the_branches_it_includes(local_aws, aws, tmp_path):
    tiny = Tiny(local_aws, aws, stages=["Checkout", "Make"], triggers=[{
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {"sourceActionName": "Code", "push": [
            {"branches": {"includes": ["release/*"], "excludes": ["release/old*"]}}]}}])
    repo = make_repo(tmp_path)
    assert "no pipeline's trigger matches" in tiny.push(repo, "HEAD:refs/heads/main")
    assert "no pipeline's trigger matches" in tiny.push(repo, "HEAD:refs/heads/release/old-1")
    head = commit(repo, "release me")
    assert "started execution" in tiny.push(repo, "HEAD:refs/heads/release/2")
    execution = tiny.executions()
    assert len(execution) == 1
    assert execution[0]["trigger"]["triggerType"] == "WebhookV2"
    assert execution[0]["sourceRevisions"][0]["revisionId"] == head
    assert execution[0]["sourceRevisions"][0]["revisionSummary"] == "release me"
    assert tiny.wait(execution[0]["pipelineExecutionId"])["status"] == "Succeeded"


def test_stop_and_abandon_ends_the_running_build(local_aws, aws, s3, tmp_path):
    tiny = Tiny(local_aws, aws, stages=UP_TO_THE_GATE)
    s3.put_object(Bucket=tiny.bucket, Key="make-sleeps", Body=b"")
    tiny.push(make_repo(tmp_path))
    execution_id = only_execution(tiny)
    deadline = time.monotonic() + 60
    while tiny.statuses(execution_id).get("Make.Compile") != "InProgress":
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.2)
    tiny.api.stop_pipeline_execution(pipelineName=tiny.name, pipelineExecutionId=execution_id,
                                     abandon=True, reason="wrong commit")
    execution = tiny.wait(execution_id, timeout=60)
    assert execution["status"] == "Stopped"
    assert tiny.executions()[0]["stopTrigger"] == {"reason": "wrong commit"}
    make = tiny.actions(execution_id)["Make.Compile"]
    assert make["status"] == "Abandoned"
    build_id = make["output"]["executionResult"]["externalExecutionId"]
    deadline = time.monotonic() + 30
    while not (build := aws("codebuild").batch_get_builds(ids=[build_id])["builds"][0])[
            "buildComplete"]:
        assert time.monotonic() < deadline, "the build did not stop"
        time.sleep(0.2)
    assert build["buildStatus"] == "STOPPED"
    with pytest.raises(tiny.api.exceptions.PipelineExecutionNotStoppableException):
        tiny.api.stop_pipeline_execution(pipelineName=tiny.name,
                                         pipelineExecutionId=execution_id)


def test_a_newer_push_supersedes_an_execution_waiting_for_a_busy_stage(local_aws, aws,
                                                                       tmp_path):
    tiny = Tiny(local_aws, aws, stages=UP_TO_THE_GATE, executionMode="SUPERSEDED")
    repo = make_repo(tmp_path)
    tiny.push(repo)
    first = only_execution(tiny)
    tiny.token()  # the first holds the Gate stage, waiting for approval

    def push_and_wait_at_the_gate(message: str) -> str:
        commit(repo, message)
        tiny.push(repo)
        execution_id = tiny.executions()[0]["pipelineExecutionId"]
        deadline = time.monotonic() + 60
        while tiny.statuses(execution_id).get("Make.Compile") != "Succeeded":
            assert time.monotonic() < deadline, f"{message} never built"
            time.sleep(0.2)
        return execution_id

    second = push_and_wait_at_the_gate("second")
    third = push_and_wait_at_the_gate("third")
    assert tiny.wait(second)["status"] == "Superseded"
    approve(tiny, "Rejected", "not the first")
    assert tiny.wait(first)["status"] == "Failed"
    approve(tiny)  # the third one's approval, once it has entered the stage
    assert tiny.wait(third)["status"] == "Succeeded"


def test_an_execution_interrupted_by_a_crash_or_a_stop_ends_saying_why(aws, tmp_path):
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    try:
        tiny = Tiny(settings, lambda service: client_for(settings, service),
                    stages=UP_TO_THE_GATE)
        tiny.push(make_repo(tmp_path))
        execution_id = only_execution(tiny)
        tiny.token()
        os.kill(instances.of_home(settings.home).pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while instances.of_home(settings.home) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        start_background(settings)
        execution = tiny.wait(execution_id, timeout=10)
        assert execution["status"] == "Failed"
        assert "The local AWS stopped while this execution ran" in execution["statusSummary"]
        review = tiny.actions(execution_id)["Gate.Review"]
        assert review["status"] == "Failed"
        assert "local AWS stopped" in review["output"]["executionResult"]["errorDetails"][
            "message"]

        # `sagepipe down` (a graceful stop) stops what runs, saying why
        tiny.api.start_pipeline_execution(name=tiny.name)
        waiting = tiny.executions()[0]["pipelineExecutionId"]
        tiny.token()
        stop(settings)
        start_background(settings)
        assert tiny.wait(waiting, timeout=10)["status"] == "Stopped"
        assert tiny.executions()[0]["stopTrigger"] == {"reason": "The local AWS is shutting down"}
        assert tiny.actions(waiting)["Gate.Review"]["status"] == "Abandoned"
    finally:
        stop(settings)


def test_updates_keep_every_version_and_a_delete_abandons_what_runs(local_aws, aws, tmp_path):
    tiny = Tiny(local_aws, aws, stages=UP_TO_THE_GATE)
    updated = copy.deepcopy(tiny.declaration)
    updated["stages"][2]["actions"][0]["configuration"]["CustomData"] = "second version"
    assert tiny.api.update_pipeline(pipeline=updated)["pipeline"]["version"] == 2
    assert tiny.api.get_pipeline(name=tiny.name, version=1)["pipeline"]["stages"][2][
        "actions"][0]["configuration"]["CustomData"] == "greeting #{Make.GREETING}"
    with pytest.raises(tiny.api.exceptions.PipelineVersionNotFoundException):
        tiny.api.get_pipeline(name=tiny.name, version=3)
    tiny.push(make_repo(tmp_path))
    tiny.token()  # an execution waits for approval
    tiny.api.delete_pipeline(name=tiny.name)
    with pytest.raises(tiny.api.exceptions.PipelineNotFoundException):
        tiny.api.list_pipeline_executions(pipelineName=tiny.name)
    tiny.api.delete_pipeline(name=tiny.name)  # deleting it again succeeds, as in AWS
    assert tiny.name not in [p["name"] for p in tiny.api.list_pipelines()["pipelines"]]


def test_a_step_functions_action_runs_its_state_machine(local_aws, aws, tmp_path):
    sfn = aws("stepfunctions")
    role = "arn:aws:iam::000000000000:role/states"
    machines = {name: sfn.create_state_machine(name=f"m-{name}-{time.time_ns()}", roleArn=role,
                                               definition=json.dumps(definition))[
        "stateMachineArn"] for name, definition in (
        ("pass", {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}),
        ("fail", {"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "Quality",
                                                     "Cause": "rmse 9.1 above 5"}}}))}
    tiny = Tiny(local_aws, aws, stages=["Checkout"], extra_stages=[{"name": "Train", "actions": [
        {"name": f"Run{kind.title()}", "runOrder": order,
         "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "StepFunctions",
                          "version": "1"},
         "configuration": {"StateMachineArn": arn, "ExecutionNamePrefix": "tiny",
                           "Input": '{"commit": "#{Src.CommitId}"}'}}
        for order, (kind, arn) in enumerate(machines.items(), 1)]}])
    tiny.push(make_repo(tmp_path))
    execution_id = only_execution(tiny)
    assert tiny.wait(execution_id)["status"] == "Failed"
    actions = tiny.actions(execution_id)
    passed = actions["Train.RunPass"]
    assert passed["status"] == "Succeeded"
    variables = passed["output"]["outputVariables"]
    assert variables["StateMachineArn"] == machines["pass"]
    execution = sfn.describe_execution(executionArn=variables["ExecutionArn"])
    assert execution["name"] == f"tiny-{execution_id}"
    assert json.loads(execution["output"])["commit"] == \
        actions["Checkout.Code"]["output"]["outputVariables"]["CommitId"]
    failed = actions["Train.RunFail"]["output"]["executionResult"]["errorDetails"]["message"]
    assert failed.endswith("FAILED: Quality: rmse 9.1 above 5")
