"""Clients of the served Step Functions, unchanged: the AWS CLI, the Data Science SDK's
Workflow (ds_stepfunctions, proving that the client library and the service agree), and
`sagepipe states` / `sagepipe logs`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from service_kit import ROLE, WAITING, create, machine, wait_until_done
from testkit import client_for, unique

from ds_stepfunctions.inputs import ExecutionInput
from ds_stepfunctions.steps import Chain, Map, Parallel, Pass, Succeed, Wait
from ds_stepfunctions.workflow import Workflow
from sagepipe.cli.states import stages
from sagepipe.clients import local_env

BIN = Path(sys.executable).parent


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_aws_cli_works_unchanged(local_aws, tmp_path):
    env = local_env(local_aws)
    aws = [str(BIN / "aws"), "stepfunctions"]
    definition = tmp_path / "machine.json"
    definition.write_text(machine({"Hello": {"Type": "Pass", "End": True, "Parameters": {
        "greeting.$": "States.Format('hello {}', $.who)"}}}))
    created = json.loads(run(*aws, "create-state-machine", "--name", unique("cli"),
                             "--definition", f"file://{definition}", "--role-arn", ROLE,
                             env=env).stdout)
    started = json.loads(run(*aws, "start-execution", "--state-machine-arn",
                             created["stateMachineArn"], "--input", '{"who": "cli"}',
                             env=env).stdout)
    wait_until_done(client_for(local_aws, "stepfunctions"), started["executionArn"], timeout=30)
    described = json.loads(run(*aws, "describe-execution", "--execution-arn",
                               started["executionArn"], env=env).stdout)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"greeting": "hello cli"}
    events = json.loads(run(*aws, "get-execution-history", "--execution-arn",
                            started["executionArn"], env=env).stdout)["events"]
    assert [e["type"] for e in events][::len(events) - 1] == ["ExecutionStarted",
                                                              "ExecutionSucceeded"]
    express = json.loads(run(*aws, "create-state-machine", "--name", unique("cli-x"),
                             "--type", "EXPRESS", "--definition", f"file://{definition}",
                             "--role-arn", ROLE, env=env).stdout)
    synced = json.loads(run(*aws, "start-sync-execution", "--state-machine-arn",
                            express["stateMachineArn"], "--input", '{"who": "sync"}',
                            env=env).stdout)  # served without its `sync-` host prefix
    assert json.loads(synced["output"]) == {"greeting": "hello sync"}


def test_a_ds_stepfunctions_workflow_runs_on_the_local_service(local_aws):
    inputs = ExecutionInput(schema={"Numbers": list, "Label": str})
    square = Pass("Square", parameters={"value.$": "States.MathAdd($.n, $.n)"})
    both = Parallel("Both", result_path=None)
    both.add_branch(Pass("Left", result="left"))
    both.add_branch(Wait("Pause", seconds=1))
    chain = Chain([
        Pass("Start", parameters={"numbers": inputs["Numbers"], "label": inputs["Label"]}),
        both,
        Map("Double", items_path="$$.Execution.Input.Numbers", parameters={
            "n.$": "$$.Map.Item.Value"}, iterator=square, result_path="$.doubled"),
        Succeed("Done")])
    workflow = Workflow(unique("ds-sdk"), chain, ROLE, execution_input=inputs,
                        client=client_for(local_aws, "stepfunctions"))
    arn = workflow.create()
    assert workflow.create() == arn
    execution = workflow.execute(inputs={"Numbers": [1, 2, 3], "Label": "x"})
    assert execution.get_output(wait=True) == {
        "numbers": [1, 2, 3], "label": "x",
        "doubled": [{"value": 2}, {"value": 4}, {"value": 6}]}
    events = execution.list_events()
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == \
        "ExecutionSucceeded"
    assert [e.execution_arn for e in workflow.list_executions()] == [execution.execution_arn]
    again = Workflow(workflow.name, chain, ROLE, execution_input=inputs,
                     client=client_for(local_aws, "stepfunctions"))
    assert again.create() == arn  # the same definition: AWS answers with its ARN


def sagepipe(local_aws, *args: str) -> str:
    return run(str(BIN / "sagepipe"), "--home", str(local_aws.home), "--port",
               str(local_aws.port), *args, env={"COLUMNS": "200"}).stdout  # no wrapped cells


def test_sagepipe_states_and_logs_show_executions(local_aws):
    sfn = client_for(local_aws, "stepfunctions")
    name = unique("shown")
    arn = create(sfn, machine({
        "Try": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "no-such-bucket-here", "Key": "k"}, "Next": "Fan",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Fan",
                           "ResultPath": "$.error"}]},
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "Next": "Done",
                "ItemProcessor": {"StartAt": "Each", "States": {
                    "Each": {"Type": "Pass", "End": True}}}},
        "Done": {"Type": "Succeed"}}), name=name)
    execution = sfn.start_execution(stateMachineArn=arn, name="first", input=json.dumps(
        {"items": [1, 2, 3]}))["executionArn"]
    wait_until_done(sfn, execution, timeout=30)

    listed = sagepipe(local_aws, "states", "list")
    assert name in listed and "STANDARD" in listed
    assert "first" in sagepipe(local_aws, "states", "executions", name)
    shown = sagepipe(local_aws, "states", "show", execution)
    assert "SUCCEEDED" in shown and "caught" in shown and "3/3 items" in shown
    assert "S3.NoSuchBucketException" in shown
    history = sagepipe(local_aws, "states", "history", "first")
    assert "ExecutionStarted" in history and "MapIterationSucceeded" in history
    logged = [json.loads(line) for line in sagepipe(local_aws, "logs", "first").splitlines()]
    assert {r["execution_arn"] for r in logged} == {execution}  # Step Functions' JSON records
    assert [(r["id"], r["type"]) for r in logged] == [
        (str(e["id"]), e["type"]) for e in sfn.get_execution_history(executionArn=execution)[
            "events"]]
    assert {"type": "TaskStateEntered", "name": "Try"} in [
        {"type": r["type"], "name": r["details"].get("name")} for r in logged]

    found = {s.name: s for s in stages(sfn.get_execution_history(executionArn=execution)[
        "events"])}
    assert list(found) == ["Try", "Fan", "Each", "Done"]
    assert found["Try"].status(False) == "caught"
    assert (found["Fan"].iterations, found["Each"].entered) == ([3, 3], 3)
    assert all(found[s].status(False) == "succeeded" for s in ("Fan", "Each", "Done"))


def test_sagepipe_states_show_follows_a_running_execution_to_its_end(local_aws):
    sfn = client_for(local_aws, "stepfunctions")
    arn = create(sfn, WAITING)
    execution = sfn.start_execution(stateMachineArn=arn, name="followed",
                                    input='{"seconds": 2}')["executionArn"]
    shown = sagepipe(local_aws, "states", "show", execution)
    assert "SUCCEEDED" in shown and "Hold" in shown and "Done" in shown
    assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"

