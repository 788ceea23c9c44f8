"""States and request parts the workflows share."""

from __future__ import annotations

from typing import Any

from ds_stepfunctions.inputs import StepInput
from ds_stepfunctions.steps import Catch, Fail, State

FAILED = "ML Workflow failed"
# SageMaker's metric definitions for the built-in XGBoost, with a number-shaped value (the
# train value is followed by `#011validation-...` on the same line).
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
XGBOOST_METRICS = [{"Name": "train:rmse", "Regex": rf".*\[[0-9]+\].*#011train-rmse:{NUMBER}.*"},
                   {"Name": "validation:rmse",
                    "Regex": rf".*\[[0-9]+\].*#011validation-rmse:{NUMBER}.*"}]


def failure_state() -> Fail:
    """Where a caught task failure ends: the task's error and cause (for a SageMaker job, its
    Describe* response with the FailureReason) become the execution's."""
    failure = StepInput()["Failure"]
    return Fail(FAILED, error=failure["Error"], cause=failure["Cause"])


def catch_failures(fail: Fail, *tasks: State) -> None:
    """Send each task's failure to `fail`, with the error kept at $.Failure."""
    for task in tasks:
        task.add_catch(Catch(error_equals=["States.TaskFailed"], next_step=fail,
                             result_path="$.Failure"))


def training_request(image: str, role_arn: str, output_uri: str, instance_type: str,
                     metrics: list[dict[str, str]], max_runtime: int = 3600) -> dict[str, Any]:
    """A CreateTrainingJob request without its name, data and hyperparameters."""
    return {
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File",
                                   "MetricDefinitions": metrics},
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "ResourceConfig": {"VolumeSizeInGB": 10, "InstanceCount": 1,
                           "InstanceType": instance_type},
        "RoleArn": role_arn,
    }


def transform_resources(output_uri: Any, instance_type: str) -> dict[str, Any]:
    """The transformer part of a CreateTransformJob request: CSV lines in and out."""
    return {"TransformOutput": {"S3OutputPath": output_uri, "Accept": "text/csv",
                                "AssembleWith": "Line"},
            "TransformResources": {"InstanceCount": 1, "InstanceType": instance_type}}
