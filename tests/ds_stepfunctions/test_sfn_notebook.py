"""The DS SDK's abalone notebook (golden/generate.py, part 1), cell after cell, with only the
imports changed (`stepfunctions` -> `ds_stepfunctions`) and the v2 Estimator, TrainingInput and
transformer given as the requests they stood for. It builds, renders, creates, executes and
lists a workflow; the Step Functions calls go to a real boto3 client, stubbed (Stubber)."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
from sfn_kit import GOLDEN, HYPERPARAMETERS, SFN_ROLE, xgb_request, xgb_transformer

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:MyTrainTransformDeploy_v1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_abalone_notebook_cells(sfn, capsys):
    client, stub = sfn

    # -- cell: imports (the only change: ds_stepfunctions for stepfunctions)
    import ds_stepfunctions as stepfunctions
    from ds_stepfunctions import steps
    from ds_stepfunctions.inputs import ExecutionInput
    from ds_stepfunctions.workflow import Workflow

    stepfunctions.set_stream_logger(level=logging.INFO)
    workflow_execution_role = SFN_ROLE

    # -- cell: the estimator (was sagemaker.estimator.Estimator(...) + set_hyperparameters)
    xgb = xgb_request()
    xgb["HyperParameters"] = HYPERPARAMETERS
    s3_input_train = steps.training_input("s3://golden-bucket/abalone/train",
                                          content_type="libsvm")
    s3_input_validation = steps.training_input("s3://golden-bucket/abalone/validation",
                                               content_type="libsvm")

    # -- cell: execution input
    execution_input = ExecutionInput(schema={"JobName": str, "ModelName": str,
                                             "EndpointName": str})

    # -- cells: the steps
    training_step = steps.TrainingStep(
        "Train Step", estimator=xgb,
        data={"train": s3_input_train, "validation": s3_input_validation},
        job_name=execution_input["JobName"], wait_for_completion=True)
    model_step = steps.ModelStep("Save model", model=training_step.get_expected_model(),
                                 model_name=execution_input["ModelName"])
    transform_step = steps.TransformStep(
        "Transform Input Dataset",
        transformer=xgb_transformer("s3://golden-bucket/abalone/batch-out"),
        job_name=execution_input["JobName"], model_name=execution_input["ModelName"],
        data="s3://golden-bucket/abalone/test", content_type="text/libsvm")
    endpoint_config_step = steps.EndpointConfigStep(
        "Create Endpoint Config", endpoint_config_name=execution_input["ModelName"],
        model_name=execution_input["ModelName"], initial_instance_count=1,
        instance_type="ml.m5.large")
    endpoint_step = steps.EndpointStep("Create Endpoint",
                                       endpoint_name=execution_input["EndpointName"],
                                       endpoint_config_name=execution_input["ModelName"])
    workflow_definition = steps.Chain([training_step, model_step, transform_step,
                                       endpoint_config_step, endpoint_step])

    # -- cell: the workflow, drawn
    workflow = Workflow(name="MyTrainTransformDeploy_v1", definition=workflow_definition,
                        role=workflow_execution_role, execution_input=execution_input,
                        client=client)
    graph = workflow.render_graph()
    assert "Train Step" in graph._repr_html_() and "Create Endpoint" in graph.to_mermaid()

    # The definition is the golden one but for the v2 Estimator's debugger default.
    golden = json.loads((GOLDEN / "abalone.asl.json").read_text())
    del golden["States"]["Train Step"]["Parameters"]["DebugHookConfig"]
    assert workflow.definition.to_dict() == golden

    # -- cell: workflow.create()
    definition = json.dumps(workflow.definition.to_dict(), indent=4)
    stub.add_response("create_state_machine", {"stateMachineArn": ARN, "creationDate": NOW},
                      {"name": "MyTrainTransformDeploy_v1", "definition": definition,
                       "roleArn": SFN_ROLE, "tags": []})
    assert workflow.create() == ARN

    # -- cell: execute
    inputs = {"JobName": f"regression-{uuid.uuid1().hex}",
              "ModelName": f"regression-{uuid.uuid1().hex}",
              "EndpointName": f"regression-{uuid.uuid1().hex}"}
    execution_arn = ARN.replace("stateMachine", "execution") + ":run"
    stub.add_response("start_execution", {"executionArn": execution_arn, "startDate": NOW},
                      {"stateMachineArn": ARN, "input": json.dumps(inputs, indent=4)})
    execution = workflow.execute(inputs=inputs)

    # -- cell: execution.render_progress()
    events = [{"id": 1, "type": "ExecutionStarted", "timestamp": NOW},
              {"id": 2, "type": "TaskStateEntered", "timestamp": NOW, "previousEventId": 1,
               "stateEnteredEventDetails": {"name": "Train Step"}}]
    stub.add_response("get_execution_history", {"events": events},
                      {"executionArn": execution_arn, "reverseOrder": False,
                       "maxResults": 1000})
    progress = execution.render_progress()
    assert progress.statuses == {"Train Step": "InProgress"}

    # -- cells: execution.list_events(html=True), workflow.list_executions(html=True),
    #    Workflow.list_workflows(html=True)
    stub.add_response("get_execution_history", {"events": events},
                      {"executionArn": execution_arn, "reverseOrder": False, "maxResults": 100})
    assert "TaskStateEntered" in execution.list_events(html=True)._repr_html_()
    stub.add_response("list_executions", {"executions": [{
        "executionArn": execution_arn, "stateMachineArn": ARN, "name": "run",
        "status": "RUNNING", "startDate": NOW}]}, {"stateMachineArn": ARN, "maxResults": 100})
    assert "RUNNING" in workflow.list_executions(html=True)._repr_html_()
    stub.add_response("list_state_machines", {"stateMachines": [{
        "stateMachineArn": ARN, "name": "MyTrainTransformDeploy_v1", "type": "STANDARD",
        "creationDate": NOW}]}, {"maxResults": 100})
    assert "MyTrainTransformDeploy_v1" in Workflow.list_workflows(
        client=client, html=True)._repr_html_()

    # -- cell: the CloudFormation export
    assert "StateMachineComponent" in workflow.get_cloudformation_template()
