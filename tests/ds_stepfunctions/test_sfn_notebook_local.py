"""The DS SDK's abalone notebook, cell after cell as in test_sfn_notebook.py (only the imports
changed, the v2 Estimator and transformer given as the requests they stood for), against the
local Step Functions: the workflow is created, really executed to SUCCEEDED (XGBoost trains on
the abalone data, a batch transform scores it, an endpoint is created), its output read with
get_output(wait=True), its events listed and its progress drawn from the real history."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from sfn_kit import HYPERPARAMETERS
from testkit import REPO

from sagepipe.clients import internal
from workflows import abalone

XGBOOST = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-xgboost:latest"
SAGEMAKER_ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
STATES = ["Train Step", "Save model", "Transform Input Dataset", "Create Endpoint Config",
          "Create Endpoint"]


@pytest.fixture
def bucket(local_aws, aws) -> str:
    """The notebook's data (the abalone splits as libsvm) in a bucket, its image registered."""
    internal(local_aws, "PUT", "images",
             {"uri": XGBOOST, "directory": str(REPO / "workflows" / "images" / "xgboost")})
    name = f"notebook-{uuid.uuid4().hex[:8]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=name)
    for split, text in abalone.libsvm_rows().items():
        s3.put_object(Bucket=name, Key=f"abalone/{split}/abalone.libsvm", Body=text.encode())
    return name


@pytest.fixture
def endpoints(aws):
    """Endpoints the notebook creates, deleted once the test is done."""
    names: list[str] = []
    yield names
    for name in names:
        aws("sagemaker").delete_endpoint(EndpointName=name)


def test_abalone_notebook_cells_on_the_local_step_functions(aws, bucket, endpoints):
    client = aws("stepfunctions")

    # -- cell: imports (the only change: ds_stepfunctions for stepfunctions)
    import ds_stepfunctions as stepfunctions
    from ds_stepfunctions import steps
    from ds_stepfunctions.inputs import ExecutionInput
    from ds_stepfunctions.workflow import Workflow

    stepfunctions.set_stream_logger(level=logging.INFO)
    workflow_execution_role = "arn:aws:iam::000000000000:role/StepFunctionsRole"

    # -- cell: the estimator (was sagemaker.estimator.Estimator(...) + set_hyperparameters)
    xgb = {"AlgorithmSpecification": {"TrainingImage": XGBOOST, "TrainingInputMode": "File"},
           "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/abalone/output"},
           "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
           "ResourceConfig": {"VolumeSizeInGB": 5, "InstanceCount": 1,
                              "InstanceType": "ml.m5.large"},
           "RoleArn": SAGEMAKER_ROLE}
    xgb["HyperParameters"] = HYPERPARAMETERS
    s3_input_train = steps.training_input(f"s3://{bucket}/abalone/train", content_type="libsvm")
    s3_input_validation = steps.training_input(f"s3://{bucket}/abalone/validation",
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
        transformer={"TransformOutput": {"S3OutputPath": f"s3://{bucket}/abalone/batch-out"},
                     "TransformResources": {"InstanceCount": 1,
                                            "InstanceType": "ml.m5.large"}},
        job_name=execution_input["JobName"], model_name=execution_input["ModelName"],
        data=f"s3://{bucket}/abalone/test", content_type="text/libsvm")
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

    # -- cell: workflow.create()
    arn = workflow.create()
    assert client.describe_state_machine(stateMachineArn=arn)["definition"] == json.dumps(
        workflow.definition.to_dict(), indent=4)

    # -- cell: execute
    inputs = {"JobName": f"regression-{uuid.uuid1().hex}",
              "ModelName": f"regression-{uuid.uuid1().hex}",
              "EndpointName": f"regression-{uuid.uuid1().hex}"}
    endpoints.append(inputs["EndpointName"])
    execution = workflow.execute(inputs=inputs)

    # -- cell: execution.get_output(wait=True)
    result = execution.get_output(wait=True)
    described = execution.describe()
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert result["EndpointArn"].endswith(f":endpoint/{inputs['EndpointName']}")
    assert execution.get_input() == inputs

    # -- cell: execution.render_progress(): every state coloured by the real history
    progress = execution.render_progress()
    assert progress.statuses == dict.fromkeys(STATES, "Succeeded")
    picture = progress.to_svg()
    assert all(f"<title>{state} (Succeeded)</title>" in picture for state in STATES)

    # -- cells: execution.list_events(html=True), workflow.list_executions(html=True),
    #    Workflow.list_workflows(html=True)
    events = execution.list_events(max_items=1000)
    assert [e["stateEnteredEventDetails"]["name"] for e in events
            if "stateEnteredEventDetails" in e] == STATES
    assert events[-1]["type"] == "ExecutionSucceeded"
    assert "ExecutionSucceeded" in execution.list_events(html=True)._repr_html_()
    listed = workflow.list_executions(html=True)._repr_html_()
    assert execution.execution_arn in listed and "SUCCEEDED" in listed
    assert "MyTrainTransformDeploy_v1" in Workflow.list_workflows(
        client=client, html=True)._repr_html_()

    # What the run made is there: the job, the model, the transform's output.
    sm = aws("sagemaker")
    assert sm.describe_training_job(TrainingJobName=inputs["JobName"])[
        "TrainingJobStatus"] == "Completed"
    assert sm.describe_model(ModelName=inputs["ModelName"])["PrimaryContainer"]["Image"] == \
        XGBOOST
    scored = aws("s3").list_objects_v2(Bucket=bucket, Prefix="abalone/batch-out/")["Contents"]
    assert [o["Key"] for o in scored] == ["abalone/batch-out/test/abalone.libsvm.out"]
