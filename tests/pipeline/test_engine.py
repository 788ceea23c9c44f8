"""The execution engine on its own (in-process, on a store of its own): an unexpected error in
an action fails that action with one line naming the error, and the traceback goes to the log
of the local AWS, never to the API's answers."""

from __future__ import annotations

import logging
import time

from testkit import free_port

from sagepipe.codepipeline.actions import ActionResult
from sagepipe.codepipeline.declaration import SOURCE
from sagepipe.codepipeline.executions import PROVIDERS
from sagepipe.codepipeline.models import CodePipeline
from sagepipe.config import Settings
from sagepipe.store import Store


def action(name: str, category: str, provider: str, **rest):
    return {"name": name, "actionTypeId": {"category": category, "owner": "AWS",
                                           "provider": provider, "version": "1"}, **rest}


def test_a_bug_in_an_action_fails_it_in_one_line_and_logs_the_traceback(tmp_path, monkeypatch,
                                                                       caplog):
    def fake_source(run):
        return ActionResult(variables={"CommitId": "0" * 40},
                            outputs={"Code": {"bucket": "b", "key": "k"}})

    def broken_build(run):
        return ActionResult(variables={"ratio": str(1 / len(run.config["NoSuchList"]))})

    monkeypatch.setitem(PROVIDERS, ("Source", SOURCE), fake_source)
    monkeypatch.setitem(PROVIDERS, ("Build", "CodeBuild"), broken_build)
    settings = Settings(home=tmp_path / "home", port=free_port())
    backend = CodePipeline(Store(tmp_path / "state.db"), settings)
    backend.create_pipeline({"pipeline": {
        "name": "p", "roleArn": "arn:aws:iam::000000000000:role/p",
        "artifactStore": {"type": "S3", "location": "b"},
        "stages": [
            {"name": "Source", "actions": [action(
                "Code", "Source", SOURCE, outputArtifacts=[{"name": "Code"}],
                configuration={"ConnectionArn": "arn", "FullRepositoryId": "me/p",
                               "BranchName": "main"})]},
            {"name": "Make", "actions": [action(
                "Compile", "Build", "CodeBuild", inputArtifacts=[{"name": "Code"}],
                configuration={"ProjectName": "make"})]}]}})
    with caplog.at_level(logging.ERROR):
        execution_id = backend.start_pipeline_execution({"name": "p"})["pipelineExecutionId"]
        deadline = time.monotonic() + 30
        while backend.get_pipeline_execution({"pipelineName": "p", "pipelineExecutionId":
                                              execution_id})["pipelineExecution"]["status"] \
                == "InProgress":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    details = backend.list_action_executions({"pipelineName": "p"})["actionExecutionDetails"]
    make = next(d for d in details if d["actionName"] == "Compile")
    error = make["output"]["executionResult"]["errorDetails"]
    assert make["status"] == "Failed" and error["code"] == "InternalError"
    assert error["message"].startswith("KeyError: 'NoSuchList' (the traceback is in the "
                                       "gateway log")
    assert "\n" not in error["message"] and "Traceback" not in error["message"]
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "Make.Compile" in logged and "in broken_build" in logged
