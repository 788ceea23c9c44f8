"""States and steps (the old SDK's `stepfunctions.steps`)."""

from ds_stepfunctions.steps.choice_rule import ChoiceRule
from ds_stepfunctions.steps.compute import (
    BatchSubmitJobStep,
    EcsRunTaskStep,
    GlueStartJobRunStep,
    LambdaStep,
)
from ds_stepfunctions.steps.fields import Field
from ds_stepfunctions.steps.integration_resources import IntegrationPattern
from ds_stepfunctions.steps.sagemaker import (
    EndpointConfigStep,
    EndpointStep,
    ModelStep,
    ProcessingStep,
    TrainingStep,
    TransformStep,
    processing_input,
    processing_output,
    training_input,
)
from ds_stepfunctions.steps.states import (
    Catch,
    Chain,
    Choice,
    Fail,
    FrozenGraph,
    Graph,
    Map,
    Parallel,
    Pass,
    Retry,
    State,
    Succeed,
    Task,
    Wait,
)

__all__ = [
    "BatchSubmitJobStep", "Catch", "Chain", "Choice", "ChoiceRule", "EcsRunTaskStep",
    "EndpointConfigStep", "EndpointStep", "Fail", "Field", "FrozenGraph", "GlueStartJobRunStep",
    "Graph", "IntegrationPattern", "LambdaStep", "Map", "ModelStep", "Parallel", "Pass",
    "ProcessingStep", "Retry", "State", "Succeed", "Task", "TrainingStep", "TransformStep",
    "Wait", "processing_input", "processing_output", "training_input",
]
