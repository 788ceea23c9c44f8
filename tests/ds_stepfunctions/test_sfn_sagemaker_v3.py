"""SageMaker steps from real SageMaker Python SDK v3 objects.

sagemaker v3 is ~0.5-1 GB and is never in the project's venv: test_sfn_sdk_venv.py runs this
module in the SDK's own venv (ds_stepfunctions/README.md: "SageMaker SDK v3 objects"); the
project's collection ignores it (conftest.py). The objects
are built offline (`SAGEMAKER_VALIDATE_ROLE=false` stops ModelTrainer asking IAM about the role).
"""

from __future__ import annotations

import os

import pytest
from sfn_kit import ROLE, XGB

for key, value in {"SAGEMAKER_VALIDATE_ROLE": "false", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
    os.environ.setdefault(key, value)
pytest.importorskip("sagemaker.train", reason="SageMaker SDK v3 lives in its own venv")

from sagemaker.core.processing import Processor  # noqa: E402
from sagemaker.core.resources import Model  # noqa: E402
from sagemaker.core.shapes import (  # noqa: E402
    ContainerDefinition,
    ProcessingInput,
    ProcessingS3Input,
)
from sagemaker.core.training.configs import (  # noqa: E402
    Compute,
    InputData,
    OutputDataConfig,
    StoppingCondition,
)
from sagemaker.core.transformer import Transformer  # noqa: E402
from sagemaker.train import ModelTrainer  # noqa: E402

from ds_stepfunctions.inputs import ExecutionInput  # noqa: E402
from ds_stepfunctions.steps import (  # noqa: E402
    ModelStep,
    ProcessingStep,
    TrainingStep,
    TransformStep,
)

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it


def trainer() -> ModelTrainer:
    return ModelTrainer(
        training_image=XGB, role=ROLE,
        compute=Compute(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=5),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=86400),
        output_data_config=OutputDataConfig(s3_output_path="s3://golden-bucket/abalone/output"),
        hyperparameters={"objective": "reg:squarederror", "num_round": 50, "eta": 0.2},
        input_data_config=[InputData(channel_name="train", content_type="libsvm",
                                     data_source="s3://golden-bucket/abalone/train")])


def test_training_step_sends_what_model_trainer_would_send():
    model_trainer = trainer()
    ei = ExecutionInput()
    step = TrainingStep("Train", estimator=model_trainer, job_name=ei["JobName"])
    params = step.to_dict()["Parameters"]
    # ModelTrainer.train() builds its request with this (private) method, offline for S3 data.
    sent = model_trainer._create_training_job_args(boto3=True)
    sent.pop("TrainingJobName")
    assert params.pop("TrainingJobName.$") == "$$.Execution.Input['JobName']"
    assert params == sent


def test_source_code_is_refused_with_the_reason():
    from sagemaker.core.training.configs import SourceCode

    model_trainer = trainer()
    model_trainer.source_code = SourceCode(source_dir=".", entry_script="train.py")
    with pytest.raises(ValueError, match="uploads to S3"):
        TrainingStep("Train", estimator=model_trainer, job_name="j")


def test_processing_step_from_a_v3_processor_and_shapes():
    processor = Processor(role=ROLE, image_uri="img:latest", instance_count=1,
                          instance_type="ml.t3.medium", entrypoint=["python3", "prep.py"])
    step = ProcessingStep(
        "Prep", processor=processor, job_name="prep-1", container_arguments=["--step", "train"],
        inputs=[ProcessingInput(input_name="raw", s3_input=ProcessingS3Input(
            s3_uri="s3://b/raw", local_path="/opt/ml/processing/input", s3_data_type="S3Prefix",
            s3_input_mode="File"))])
    params = step.to_dict()["Parameters"]
    assert params["AppSpecification"] == {"ImageUri": "img:latest",
                                          "ContainerEntrypoint": ["python3", "prep.py"],
                                          "ContainerArguments": ["--step", "train"]}
    assert params["ProcessingResources"] == {"ClusterConfig": {
        "InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 30}}
    assert params["ProcessingInputs"] == [{"InputName": "raw", "S3Input": {
        "S3Uri": "s3://b/raw", "LocalPath": "/opt/ml/processing/input", "S3DataType": "S3Prefix",
        "S3InputMode": "File"}}]


def test_transform_and_model_steps_from_v3_objects():
    transformer = Transformer(model_name="m", instance_count=1, instance_type="ml.m5.large",
                              output_path="s3://b/out", accept="text/csv", strategy="MultiRecord")
    params = TransformStep("T", transformer=transformer, job_name="t", model_name="m",
                           data="s3://b/in").to_dict()["Parameters"]
    assert params["TransformOutput"] == {"S3OutputPath": "s3://b/out", "Accept": "text/csv"}
    assert params["TransformResources"] == {"InstanceCount": 1, "InstanceType": "ml.m5.large"}
    assert params["BatchStrategy"] == "MultiRecord"
    model = Model(model_name="m", execution_role_arn=ROLE,
                  primary_container=ContainerDefinition(image=XGB,
                                                        model_data_url="s3://b/model.tar.gz"))
    params = ModelStep("Save", model=model).to_dict()["Parameters"]
    assert params == {"ModelName": "m", "ExecutionRoleArn": ROLE,
                      "PrimaryContainer": {"Image": XGB, "ModelDataUrl": "s3://b/model.tar.gz"}}
