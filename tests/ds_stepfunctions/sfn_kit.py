"""The golden chains of golden/generate.py, written for ds_stepfunctions.

(A module of its own, not conftest.py: tests/workflows has a conftest too, and the two would
shadow each other as `conftest` when both folders are run together.)

generate.py built them from SageMaker SDK v2 objects; here each object is the boto3 request it
stood for. The keys are in the order the v2 SDK wrote them, so that even the CloudFormation
export (whose JSON is not key-sorted) comes out byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

from ds_stepfunctions.inputs import ExecutionInput
from ds_stepfunctions.steps import (
    Catch,
    Chain,
    Choice,
    ChoiceRule,
    EndpointConfigStep,
    EndpointStep,
    Fail,
    LambdaStep,
    ModelStep,
    ProcessingStep,
    Retry,
    TrainingStep,
    TransformStep,
    processing_input,
    processing_output,
    training_input,
)
from ds_stepfunctions.workflow import Workflow

GOLDEN = Path(__file__).parent / "golden"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SFN_ROLE = "arn:aws:iam::123456789012:role/StepFunctionsWorkflowExecutionRole"
XGB = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
HYPERPARAMETERS = {"objective": "reg:squarederror", "num_round": 50, "max_depth": 5, "eta": 0.2,
                   "gamma": 4, "min_child_weight": 6, "subsample": 0.7}


def xgb_request(output: str = "s3://golden-bucket/abalone/output") -> dict:
    """What the notebook's v2 `Estimator(...)` sent, as a CreateTrainingJob request."""
    return {
        "AlgorithmSpecification": {"TrainingImage": XGB, "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": output},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "ResourceConfig": {"VolumeSizeInGB": 5, "InstanceCount": 1,
                           "InstanceType": "ml.m5.large"},
        "RoleArn": ROLE,
    }


# The v2 Estimator's debugger default, which it placed last in the request.
DEBUG_HOOK = {"DebugHookConfig": {"S3OutputPath": "s3://golden-bucket/abalone/output"}}


def xgb_transformer(output: str) -> dict:
    """What `xgb.transformer(instance_count=1, instance_type=..., output_path=...)` sent."""
    return {"TransformOutput": {"S3OutputPath": output},
            "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"}}


def abalone() -> Workflow:
    ei = ExecutionInput(schema={"JobName": str, "ModelName": str, "EndpointName": str})
    train = TrainingStep(
        "Train Step", estimator=xgb_request(), hyperparameters=HYPERPARAMETERS,
        data={"train": training_input("s3://golden-bucket/abalone/train", content_type="libsvm"),
              "validation": training_input("s3://golden-bucket/abalone/validation",
                                           content_type="libsvm")},
        job_name=ei["JobName"], parameters=DEBUG_HOOK)
    model = ModelStep("Save model", model=train.get_expected_model(), model_name=ei["ModelName"])
    transform = TransformStep(
        "Transform Input Dataset",
        transformer=xgb_transformer("s3://golden-bucket/abalone/batch-out"),
        job_name=ei["JobName"], model_name=ei["ModelName"],
        data="s3://golden-bucket/abalone/test", content_type="text/libsvm")
    config = EndpointConfigStep("Create Endpoint Config", endpoint_config_name=ei["ModelName"],
                                model_name=ei["ModelName"], initial_instance_count=1,
                                instance_type="ml.m5.large")
    endpoint = EndpointStep("Create Endpoint", endpoint_name=ei["EndpointName"],
                            endpoint_config_name=ei["ModelName"])
    return Workflow("MyTrainTransformDeploy_v1", Chain([train, model, transform, config, endpoint]),
                    SFN_ROLE, execution_input=ei)


def hermione_train() -> Workflow:
    processor = {
        "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/"
                                         "hermione-processor:latest"},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1,
                                                  "InstanceType": "ml.t3.medium",
                                                  "VolumeSizeInGB": 30}},
        "RoleArn": ROLE,
    }
    hi = ExecutionInput(schema={"PreprocessingJobName": str, "TrainingJobName": str})
    prep = ProcessingStep(
        "Preprocessing step", processor=processor, job_name=hi["PreprocessingJobName"],
        inputs=[processing_input("s3://golden-bucket/TRAIN_RAW",
                                 "/opt/ml/processing/input/raw_data", input_name="raw_data")],
        outputs=[processing_output("/opt/ml/processing/output/processed/train",
                                   "s3://golden-bucket/PREPROCESSING/TRAIN_PROCESSED",
                                   output_name="train_data"),
                 processing_output("/opt/ml/processing/output/expectations",
                                   "s3://golden-bucket/PREPROCESSING/EXPECTATIONS",
                                   output_name="expectations")],
        container_arguments=["--step", "train"])
    estimator = xgb_request("s3://golden-bucket/PREPROCESSING/MODEL")
    estimator["AlgorithmSpecification"]["TrainingImage"] = (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/hermione-train:latest")
    estimator["ResourceConfig"]["VolumeSizeInGB"] = 30
    train = TrainingStep(
        "TrainStep", estimator=estimator, job_name=hi["TrainingJobName"],
        data={"train": "s3://golden-bucket/PREPROCESSING/TRAIN_PROCESSED",
              "validation": "s3://golden-bucket/PREPROCESSING/VAL_PROCESSED"},
        parameters={"DebugHookConfig": {"S3OutputPath": "s3://golden-bucket/PREPROCESSING/MODEL"}})
    catch = Catch(error_equals=["States.TaskFailed"],
                  next_step=Fail("ML Workflow failed", cause="SageMakerProcessingJobFailed"))
    prep.add_catch(catch)
    train.add_catch(catch)
    return Workflow("SFN_Hermione_Train", Chain([prep, train]), SFN_ROLE, execution_input=hi)


def retail() -> Workflow:
    ri = ExecutionInput(schema={"JobName": str, "ModelName": str})
    retry = Retry(error_equals=["States.TaskFailed"], interval_seconds=15, max_attempts=2,
                  backoff_rate=4.0)
    prep = LambdaStep("Preparing data (Lambda)", parameters={
        "FunctionName": "ml-pipelines-data-transformation-lambda",
        "Payload": {"JobName": ri["JobName"]}})
    prep.add_retry(retry)
    train = TrainingStep(
        "Training (SageMaker)", estimator=xgb_request(), hyperparameters=HYPERPARAMETERS,
        job_name=ri["JobName"], parameters=DEBUG_HOOK,
        data={"train": training_input("s3://golden-bucket/retail/train", content_type="text/csv"),
              "validation": training_input("s3://golden-bucket/retail/validation",
                                           content_type="text/csv")})
    model = ModelStep("Save model (SageMaker)", model=train.get_expected_model(),
                      model_name=ri["ModelName"])
    check = LambdaStep("Validating RMSE (Lambda)", parameters={
        "FunctionName": "ml-pipelines-validation-lambda", "Payload": {"JobName": ri["JobName"]}})
    check.add_retry(retry)
    batch = TransformStep(
        "Batch inference (SageMaker)",
        transformer=xgb_transformer("s3://golden-bucket/retail/batch-out"),
        job_name=ri["JobName"], model_name=ri["ModelName"], data="s3://golden-bucket/retail/test",
        content_type="text/csv", split_type="Line")
    gate = Choice("RMSE under threshold?")
    gate.add_choice(ChoiceRule.NumericLessThanEquals(variable=check.output()["Payload"]["rmse"],
                                                     value=50), next_step=batch)
    gate.default_choice(next_step=Fail("Model too weak", cause="RMSE over the threshold"))
    return Workflow("ml-pipelines-sample-price-estimation",
                    Chain([prep, train, model, check, gate]), SFN_ROLE, execution_input=ri)


def golden_bytes(workflow: Workflow) -> str:
    """The definition serialised as generate.py wrote the golden files."""
    return json.dumps(json.loads(workflow.definition.to_json()), indent=2, sort_keys=True)
