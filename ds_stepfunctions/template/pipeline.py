"""TrainingPipeline: train, save the model, configure and deploy an endpoint, in one workflow.

As in the old SDK, every request of the pipeline comes from the execution's input
(`$$.Execution.Input['Training']['RoleArn']`...), so one state machine serves every run:
`execute(job_name, hyperparameters)` fills the requests built here with the run's names.
"""

from __future__ import annotations

import copy
from datetime import datetime
from enum import Enum
from typing import Any

from ds_stepfunctions.inputs.placeholders import ExecutionInput
from ds_stepfunctions.steps.sagemaker import (
    EndpointConfigStep,
    EndpointStep,
    ModelStep,
    TrainingStep,
)
from ds_stepfunctions.steps.states import Chain, Task
from ds_stepfunctions.workflow.graph import WorkflowGraph
from ds_stepfunctions.workflow.stepfunctions import Execution, Workflow


class StepId(Enum):
    Train = "Training"
    CreateModel = "Create Model"
    ConfigureEndpoint = "Configure Endpoint"
    Deploy = "Deploy"


def _timestamp() -> str:
    return datetime.now().strftime("%Y-%m-%d-%H-%M-%S")


class TrainingPipeline:
    """Training -> Create Model -> Configure Endpoint -> Deploy.

    `estimator` is a CreateTrainingJob request (or a v3 ModelTrainer), `inputs` the training
    data as TrainingStep's `data`; models go to `s3://{s3_bucket}/{pipeline_name}/models`.
    """

    def __init__(self, estimator: Any, role: str, inputs: Any, s3_bucket: str,
                 client: Any = None, pipeline_name: str | None = None) -> None:
        self.estimator = estimator
        self.inputs = inputs
        self.role = role
        self.s3_bucket = s3_bucket
        self.pipeline_name = pipeline_name or f"training-pipeline-{_timestamp()}"
        self.definition = self.build_workflow_definition()
        self.input_template = self._extract_input_template(self.definition)
        self.workflow = Workflow(name=self.pipeline_name, definition=self.definition, role=role,
                                 client=client)

    def build_workflow_definition(self) -> Chain:
        """The four steps with requests built for the pipeline's name; the constructor then
        turns each request into the template of the execution input (`input_template`)."""
        name = self.pipeline_name
        training = TrainingStep(StepId.Train.value, estimator=self.estimator,
                                job_name=f"{name}-estimator-source", data=self.inputs)
        params = training.parameters
        resources = params["ResourceConfig"]
        model = {"ExecutionRoleArn": params["RoleArn"],
                 "PrimaryContainer": {"Environment": {},
                                      "Image": params["AlgorithmSpecification"]["TrainingImage"],
                                      "ModelDataUrl": "s3://set-by-execute"}}
        return Chain([
            training,
            ModelStep(StepId.CreateModel.value, model=model, model_name=name),
            EndpointConfigStep(StepId.ConfigureEndpoint.value, endpoint_config_name=name,
                               model_name=name,
                               initial_instance_count=resources["InstanceCount"],
                               instance_type=resources["InstanceType"]),
            EndpointStep(StepId.Deploy.value, endpoint_name=name, endpoint_config_name=name),
        ])

    @staticmethod
    def _extract_input_template(definition: Chain) -> dict[str, dict[str, Any]]:
        """Each Task's request, kept as the input template; the Task then reads its request
        from the execution input, key by key."""
        execution_input = ExecutionInput()
        template = {}
        for step in definition.steps:
            if isinstance(step, Task):
                template[step.state_id] = copy.deepcopy(step.parameters)
                step.update_parameters({key: execution_input[step.state_id][key]
                                        for key in step.parameters})
        return template

    def execute(self, job_name: str | None = None,
                hyperparameters: dict[str, Any] | None = None) -> Execution:
        """Run the pipeline: train `estimator-{job_name}`, deploy model and endpoint
        `{job_name}`."""
        inputs = copy.deepcopy(self.input_template)
        job_name = job_name or f"training-pipeline-{_timestamp()}"
        train = inputs[StepId.Train.value]
        if hyperparameters is not None:
            train["HyperParameters"] = {k: str(v) for k, v in hyperparameters.items()}
        train["TrainingJobName"] = f"estimator-{job_name}"
        output = f"s3://{self.s3_bucket}/{self.workflow.name}/models"
        train.setdefault("OutputDataConfig", {})["S3OutputPath"] = output
        model = inputs[StepId.CreateModel.value]
        model["ModelName"] = job_name
        model["PrimaryContainer"]["ModelDataUrl"] = (
            f"{output}/{train['TrainingJobName']}/output/model.tar.gz")
        config = inputs[StepId.ConfigureEndpoint.value]
        config["EndpointConfigName"] = job_name
        for variant in config["ProductionVariants"]:
            variant["ModelName"] = job_name
        inputs[StepId.Deploy.value].update(EndpointConfigName=job_name, EndpointName=job_name)
        return self.workflow.execute(inputs=inputs, name=job_name)

    def create(self) -> str:
        return self.workflow.create()

    def get_workflow(self) -> Workflow:
        return self.workflow

    def render_graph(self, portrait: bool = False) -> WorkflowGraph:
        return self.workflow.render_graph(portrait=portrait)

    def __repr__(self) -> str:
        return (f"TrainingPipeline(s3_bucket={self.s3_bucket!r}, workflow={self.workflow!r}, "
                f"role={self.role!r})")
