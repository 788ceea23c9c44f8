"""Workflow and Execution against a real boto3 Step Functions client, stubbed with Stubber:
each call is checked for its exact parameters (the boundary with AWS, nothing else mocked)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sfn_kit import SFN_ROLE

from ds_stepfunctions.exceptions import MissingRequiredParameter, WorkflowNotFound
from ds_stepfunctions.inputs import ExecutionInput
from ds_stepfunctions.steps import Chain, Pass, Succeed
from ds_stepfunctions.workflow import Execution, ExecutionStatus, Workflow

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:demo"
EXEC_ARN = "arn:aws:states:us-east-1:123456789012:execution:demo:run-1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def demo(client, **kwargs) -> Workflow:
    ei = ExecutionInput(schema={"Name": str, "Count": int})
    chain = Chain([Pass("Hello", parameters={"name": ei["Name"]}), Succeed("Done")])
    return Workflow("demo", chain, SFN_ROLE, execution_input=ei, client=client, **kwargs)


def definition_json(workflow: Workflow) -> str:
    return json.dumps(workflow.definition.to_dict(), indent=4)


def test_create_then_create_again_returns_the_existing_arn(sfn):
    client, stub = sfn
    workflow = demo(client, tags={"team": "ml"})
    stub.add_response("create_state_machine", {"stateMachineArn": ARN, "creationDate": NOW},
                      {"name": "demo", "definition": definition_json(workflow),
                       "roleArn": SFN_ROLE, "tags": [{"key": "team", "value": "ml"}]})
    assert workflow.create() == ARN
    assert workflow.create() == ARN  # known ARN: no second call

    again = demo(client)
    stub.add_client_error("create_state_machine", "StateMachineAlreadyExists",
                          f"State Machine Already Exists: '{ARN}'",
                          expected_params={"name": "demo", "definition": definition_json(again),
                                           "roleArn": SFN_ROLE, "tags": []})
    assert again.create() == ARN
    assert again.state_machine_arn == ARN


def test_create_finds_the_existing_arn_by_name_when_the_message_has_none(sfn):
    client, stub = sfn
    workflow = demo(client)
    stub.add_client_error("create_state_machine", "StateMachineAlreadyExists", "exists")
    stub.add_response("list_state_machines", {"stateMachines": [
        {"stateMachineArn": ARN.replace("demo", "other"), "name": "other", "type": "STANDARD",
         "creationDate": NOW},
        {"stateMachineArn": ARN, "name": "demo", "type": "STANDARD", "creationDate": NOW}]},
        {"maxResults": 1000})
    assert workflow.create() == ARN


def test_execute_validates_the_input_before_calling_aws(sfn):
    client, stub = sfn
    workflow = demo(client, state_machine_arn=ARN)
    with pytest.raises(ValueError, match="missing 'Count'"):
        workflow.execute(inputs={"Name": "x"})
    with pytest.raises(ValueError, match="'Count' is a str, expected int"):
        workflow.execute(inputs={"Name": "x", "Count": "2"})
    with pytest.raises(ValueError, match="missing 'Name'"):
        workflow.execute()
    inputs = {"Name": "x", "Count": 2}
    stub.add_response("start_execution", {"executionArn": EXEC_ARN, "startDate": NOW},
                      {"stateMachineArn": ARN, "name": "run-1",
                       "input": json.dumps(inputs, indent=4)})
    execution = workflow.execute(name="run-1", inputs=inputs)
    assert execution.execution_arn == EXEC_ARN
    assert execution.status is ExecutionStatus.Running


def test_execute_update_delete_need_a_state_machine(sfn):
    client, stub = sfn
    workflow = Workflow("w", Succeed("s"), SFN_ROLE, client=client)
    with pytest.raises(WorkflowNotFound, match="create"):
        workflow.execute()
    with pytest.raises(MissingRequiredParameter):
        workflow.update()
    workflow.delete()  # nothing to delete: no call
    workflow.state_machine_arn = ARN
    new = Chain([Pass("p"), Succeed("s")])
    stub.add_response("update_state_machine", {"updateDate": NOW},
                      {"stateMachineArn": ARN, "roleArn": "arn:aws:iam::1:role/new",
                       "definition": json.dumps({"StartAt": "p", "States": {
                           "p": {"Type": "Pass", "Next": "s"}, "s": {"Type": "Succeed"}}},
                           indent=4)})
    assert workflow.update(definition=new, role="arn:aws:iam::1:role/new") == ARN
    stub.add_response("delete_state_machine", {}, {"stateMachineArn": ARN})
    workflow.delete()


def test_attach_list_workflows_and_list_executions(sfn):
    client, stub = sfn
    definition = {"StartAt": "s", "States": {"s": {"Type": "Succeed"}}}
    stub.add_response("describe_state_machine", {
        "stateMachineArn": ARN, "name": "demo", "definition": json.dumps(definition),
        "roleArn": SFN_ROLE, "type": "STANDARD", "creationDate": NOW}, {"stateMachineArn": ARN})
    workflow = Workflow.attach(ARN, client=client)
    assert (workflow.name, workflow.role) == ("demo", SFN_ROLE)
    assert workflow.definition.to_dict() == definition

    machine = {"stateMachineArn": ARN, "name": "demo", "type": "STANDARD", "creationDate": NOW}
    stub.add_response("list_state_machines", {"stateMachines": [machine]}, {"maxResults": 100})
    listed = Workflow.list_workflows(client=client)
    assert [m["name"] for m in listed] == ["demo"]
    assert "<td>demo</td>" in listed.to_html()

    run = {"executionArn": EXEC_ARN, "stateMachineArn": ARN, "name": "run-1",
           "status": "SUCCEEDED", "startDate": NOW, "stopDate": NOW}
    stub.add_response("list_executions", {"executions": [run], "nextToken": "t1"},
                      {"stateMachineArn": ARN, "statusFilter": "SUCCEEDED", "maxResults": 100})
    stub.add_response("list_executions", {"executions": [{**run, "name": "run-2"}]},
                      {"stateMachineArn": ARN, "statusFilter": "SUCCEEDED", "maxResults": 100,
                       "nextToken": "t1"})
    runs = workflow.list_executions(status_filter=ExecutionStatus.Succeeded)
    assert [r.name for r in runs] == ["run-1", "run-2"]
    assert all(isinstance(r, Execution) and r.status == "SUCCEEDED" for r in runs)
    assert Workflow("new", Succeed("s"), SFN_ROLE, client=client).list_executions() == []


def execution(client) -> Execution:
    return Execution(demo(client, state_machine_arn=ARN), EXEC_ARN, NOW,
                     ExecutionStatus.Running, name="run-1")


def describe(status: str, **extra) -> dict:
    return {"executionArn": EXEC_ARN, "stateMachineArn": ARN, "status": status,
            "startDate": NOW, **extra}


def test_get_output_waits_until_the_execution_stops(sfn):
    client, stub = sfn
    run = execution(client)
    for response in (describe("RUNNING"), describe("RUNNING"),
                     describe("SUCCEEDED", output='{"result": 42}', input='{"Name": "x"}')):
        stub.add_response("describe_execution", response, {"executionArn": EXEC_ARN})
    assert run.get_output(wait=True, poll_seconds=0) == {"result": 42}
    stub.add_response("describe_execution", describe("RUNNING", input='{"Name": "x"}'),
                      {"executionArn": EXEC_ARN})
    assert run.get_input() == {"Name": "x"}
    stub.add_response("describe_execution", describe("RUNNING"), {"executionArn": EXEC_ARN})
    assert run.get_output() is None  # no wait: still running, no output yet


def test_list_events_reads_every_page_and_stop(sfn):
    client, stub = sfn
    run = execution(client)
    page1 = [{"timestamp": NOW, "type": "ExecutionStarted", "id": 1}]
    page2 = [{"timestamp": NOW, "type": "PassStateEntered", "id": 2, "previousEventId": 1,
              "stateEnteredEventDetails": {"name": "Hello"}}]
    stub.add_response("get_execution_history", {"events": page1, "nextToken": "n"},
                      {"executionArn": EXEC_ARN, "reverseOrder": False, "maxResults": 100})
    stub.add_response("get_execution_history", {"events": page2},
                      {"executionArn": EXEC_ARN, "reverseOrder": False, "maxResults": 100,
                       "nextToken": "n"})
    events = run.list_events()
    assert [e["id"] for e in events] == [1, 2]
    stub.add_response("get_execution_history", {"events": page1, "nextToken": "n"},
                      {"executionArn": EXEC_ARN, "reverseOrder": True, "maxResults": 1})
    assert len(run.list_events(max_items=1, reverse_order=True)) == 1
    stub.add_response("stop_execution", {"stopDate": NOW},
                      {"executionArn": EXEC_ARN, "cause": "enough", "error": "Stopped"})
    assert run.stop(cause="enough", error="Stopped") == {"stopDate": NOW}
