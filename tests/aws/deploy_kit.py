"""The endpoint stack deployments the pipeline makes, as CloudFormation API requests.

A DeployQA / DeployProd action of CodePipeline/pipeline.yaml creates or updates the stack
`StackName` from CloudFormation/endpoint.yaml with its TemplateConfiguration file (parameters
and tags) and its ParameterOverrides on top, in which CloudFormation has substituted the
pipeline stack's values (`${...}`) and CodePipeline the earlier actions' variables (`#{...}`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from templates.templates_kit import (
    ENDPOINT,
    PIPELINE_VARIABLE,
    REPO,
    action,
    artifact_path,
    substitute,
)

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's default account
BUCKET = f"sagepipe-artifacts-{ACCOUNT}-{REGION}"
# What CloudFormation substitutes into the pipeline's `!Sub` strings (stack of ProjectName
# sagepipe in moto's account).
PIPELINE_STACK = {
    "ProjectName": "sagepipe",
    "ArtifactBucket": BUCKET,
    "SageMakerExecutionRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/sagepipe-sagemaker-role",
}
DEPLOY_ACTIONS = {"qa": "DeployQA", "prod": "DeployProd"}


@dataclass(frozen=True)
class Deploy:
    stack_name: str
    parameters: dict[str, str]
    tags: dict[str, str]

    def create_stack_request(self) -> dict:
        """CreateStack / UpdateStack arguments, as the CloudFormation action sends them."""
        return {"StackName": self.stack_name, "TemplateBody": ENDPOINT.read_text(),
                "Parameters": [{"ParameterKey": key, "ParameterValue": value}
                               for key, value in self.parameters.items()],
                "Tags": [{"Key": key, "Value": value} for key, value in self.tags.items()]}


def pipeline_variables(commit: str) -> dict[str, str]:
    """Output variables of the Build stage's actions for a build of `commit`."""
    return {
        "Image.IMAGE_URI": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sagepipe-model:{commit}",
        "Train.MODEL_DATA_URL": f"s3://{BUCKET}/sagepipe/{commit}/models/"
                                f"sagepipe-train-20260101-000000-000/output/model.tar.gz",
    }


def deploy(stage: str, commit: str) -> Deploy:
    """The request the pipeline's deploy action for `stage` makes for a build of `commit`."""
    config = action(DEPLOY_ACTIONS[stage]).configuration
    variables = pipeline_variables(commit)
    overrides_text = PIPELINE_VARIABLE.sub(lambda m: variables[f"{m[1]}.{m[2]}"],
                                           substitute(config["ParameterOverrides"],
                                                      PIPELINE_STACK))
    _, path = artifact_path(config["TemplateConfiguration"])
    stage_config = json.loads((REPO / path).read_text())
    return Deploy(stack_name=substitute(config["StackName"], PIPELINE_STACK),
                  parameters={**stage_config["Parameters"], **json.loads(overrides_text)},
                  tags=stage_config["Tags"])
