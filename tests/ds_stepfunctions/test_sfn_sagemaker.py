"""SageMaker steps from request dicts: what each emits, and the mistakes they refuse."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from sfn_kit import ROLE, XGB, xgb_request

from ds_stepfunctions.inputs import ExecutionInput
from ds_stepfunctions.steps import (
    EndpointConfigStep,
    EndpointStep,
    ModelStep,
    ProcessingStep,
    TrainingStep,
    TransformStep,
    training_input,
)

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

PROCESSOR = {"AppSpecification": {"ImageUri": "img"}, "RoleArn": ROLE,
             "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1,
                                                       "InstanceType": "ml.m5.large",
                                                       "VolumeSizeInGB": 30}}}


def test_wait_for_completion_picks_sync_or_request_response():
    sync = TrainingStep("t", estimator=xgb_request(), job_name="j").to_dict()
    assert sync["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    fire = TrainingStep("t", estimator=xgb_request(), job_name="j", wait_for_completion=False)
    assert fire.to_dict()["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob"
    proc = ProcessingStep("p", processor=PROCESSOR, job_name="j", wait_for_completion=False)
    assert proc.to_dict()["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob"


def test_training_step_options():
    request = xgb_request()
    request["HyperParameters"] = {"eta": "0.1", "rounds": "10"}
    step = TrainingStep("t", estimator=request, job_name="job-1",
                        data=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
                            "S3DataType": "S3Prefix", "S3Uri": "s3://b/train"}}}],
                        hyperparameters={"rounds": 20, "verbose": True}, mini_batch_size=64,
                        experiment_config={"ExperimentName": "e"}, tags={"team": "ml"},
                        output_data_config_path="s3://b/other")
    params = step.parameters
    assert params["HyperParameters"] == {"eta": "0.1", "rounds": "20", "verbose": "True",
                                         "mini_batch_size": "64"}
    assert params["InputDataConfig"][0]["ChannelName"] == "train"
    assert params["OutputDataConfig"]["S3OutputPath"] == "s3://b/other"
    assert params["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert params["ExperimentConfig"] == {"ExperimentName": "e"}
    assert request["HyperParameters"] == {"eta": "0.1", "rounds": "10"}  # not mutated


def test_get_expected_model_reads_the_training_output():
    train = TrainingStep("t", estimator=xgb_request(), job_name="job-1")
    model = ModelStep("m", model=train.get_expected_model())
    assert model.to_dict()["Parameters"] == {
        "ExecutionRoleArn": ROLE, "ModelName": "job-1",
        "PrimaryContainer": {"Environment": {}, "Image": XGB,
                             "ModelDataUrl.$": "$['ModelArtifacts']['S3ModelArtifacts']"}}
    assert train.get_expected_model("named")["ModelName"] == "named"
    algorithm = xgb_request()
    algorithm["AlgorithmSpecification"] = {"AlgorithmName": "arn:aws:sagemaker:algo",
                                           "TrainingInputMode": "File"}
    with pytest.raises(ValueError, match="algorithm resource"):
        TrainingStep("t", estimator=algorithm, job_name="j").get_expected_model()


def test_transform_endpoint_config_and_endpoint_steps():
    ei = ExecutionInput()
    transform = TransformStep(
        "t", transformer={"TransformOutput": {"S3OutputPath": "s3://b/out"},
                          "TransformResources": {"InstanceCount": 1,
                                                 "InstanceType": "ml.m5.large"}},
        job_name="t1", model_name=ei["Model"], data=ei["Input"], data_type="ManifestFile",
        compression_type="Gzip", input_filter="$[1:]", output_filter="$[-1]",
        join_source="Input")
    params = transform.parameters
    assert params["TransformInput"]["DataSource"]["S3DataSource"] == {
        "S3DataType": "ManifestFile", "S3Uri": ei["Input"]}
    assert params["DataProcessing"] == {"InputFilter": "$[1:]", "OutputFilter": "$[-1]",
                                        "JoinSource": "Input"}
    config = EndpointConfigStep("c", endpoint_config_name="cfg", model_name="m",
                                initial_instance_count=2, instance_type="ml.m5.large",
                                variant_name="blue",
                                data_capture_config={"InitialSamplingPercentage": 50,
                                                     "DestinationS3Uri": "s3://b/capture",
                                                     "CaptureOptions": [
                                                         {"CaptureMode": "Input"}]})
    assert config.parameters["ProductionVariants"][0]["VariantName"] == "blue"
    assert config.parameters["DataCaptureConfig"]["InitialSamplingPercentage"] == 50
    create = EndpointStep("e", endpoint_name="ep", endpoint_config_name="cfg", tags={"a": "b"})
    assert create.to_dict()["Resource"] == "arn:aws:states:::sagemaker:createEndpoint"
    update = EndpointStep("u", endpoint_name="ep", endpoint_config_name="cfg2", update=True)
    assert update.to_dict()["Resource"] == "arn:aws:states:::sagemaker:updateEndpoint"
    assert update.to_dict()["Parameters"] == {"EndpointConfigName": "cfg2", "EndpointName": "ep"}


@pytest.mark.parametrize("make, message", [
    (lambda: TrainingStep("t", estimator={**xgb_request(),
                                          "ResourceConfig": {"VolumeSizeInGb": 5,
                                                             "InstanceCount": 1}},
                          job_name="j"),
     "'VolumeSizeInGb'.*Did you mean 'VolumeSizeInGB'"),
    (lambda: TrainingStep("t", estimator={"RoleArn": ROLE}, job_name="j"),
     "Parameters lacks OutputDataConfig, required by CreateTrainingJob"),
    (lambda: EndpointConfigStep("c", endpoint_config_name="c", model_name="m",
                                initial_instance_count="1", instance_type="ml.m5.large"),
     "InitialInstanceCount is '1'; the API expects a integer"),
    (lambda: EndpointStep("u", endpoint_name="e", endpoint_config_name="c", update=True,
                          tags={"a": "b"}),
     "'Tags', which UpdateEndpointInput does not have"),
    (lambda: TrainingStep("t", estimator=xgb_request(), job_name="j", data="/home/me/train.csv"),
     "reads training data from S3"),
    (lambda: TrainingStep("t", estimator=object(), job_name="j"), "request dict"),
    (lambda: ModelStep("m", model={"PrimaryContainer": {"Image": XGB},
                                   "ExecutionRoleArn": ROLE}),
     "lacks ModelName"),
])
def test_request_mistakes_are_refused_when_the_step_is_built(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_parameters_are_merged_over_the_built_request():
    step = TrainingStep("t", estimator=xgb_request(), job_name="j",
                        data={"train": training_input("s3://b/t")},
                        parameters={"ResourceConfig": {"InstanceCount": 4},
                                    "EnableManagedSpotTraining": True})
    assert step.parameters["ResourceConfig"] == {"VolumeSizeInGB": 5, "InstanceCount": 4,
                                                 "InstanceType": "ml.m5.large"}
    assert step.parameters["EnableManagedSpotTraining"] is True  # the old SDK's issue #42


class _Compute(BaseModel):
    """The shape of sagemaker.core.training.configs.Compute (a ResourceConfig plus a field)."""

    instance_type: str | None = None
    instance_count: int | None = None
    volume_size_in_gb: int | None = 30
    enable_managed_spot_training: bool | None = None


class _StoppingCondition(BaseModel):
    max_runtime_in_seconds: int | None = None


class _OutputDataConfig(BaseModel):
    s3_output_path: str | None = None
    compression_type: str | None = "GZIP"


class _ModelTrainer(BaseModel):
    """The attributes of sagemaker.train.ModelTrainer that a TrainingStep reads (the real class
    is tested in test_sfn_sagemaker_v3.py, in a venv with SageMaker SDK v3)."""

    training_image: str
    role: str
    compute: _Compute
    stopping_condition: _StoppingCondition
    output_data_config: _OutputDataConfig
    training_input_mode: str = "File"
    hyperparameters: dict = {}
    source_code: object | None = None


def test_v3_shaped_objects_are_read_by_their_api_field_names():
    trainer = _ModelTrainer(training_image=XGB, role=ROLE,
                            compute=_Compute(instance_type="ml.m5.large", instance_count=1,
                                             enable_managed_spot_training=True),
                            stopping_condition=_StoppingCondition(max_runtime_in_seconds=3600),
                            output_data_config=_OutputDataConfig(s3_output_path="s3://b/out"),
                            hyperparameters={"eta": 0.2, "objective": "reg:squarederror",
                                             "early": True})
    params = TrainingStep("t", estimator=trainer, job_name="j").parameters
    assert params["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                        "VolumeSizeInGB": 30}
    assert params["EnableManagedSpotTraining"] is True
    assert params["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert params["OutputDataConfig"] == {"S3OutputPath": "s3://b/out", "CompressionType": "GZIP"}
    assert params["HyperParameters"] == {"eta": "0.2", "objective": "reg:squarederror",
                                         "early": "true"}
