"""SageMaker Task states, with the old SDK's names and arguments.

Where the old SDK took SageMaker SDK v2 objects (Estimator, Processor, Transformer, Model), these
take the boto3 request they stood for, as a dict: `TrainingStep("Train", estimator={...a
CreateTrainingJob request...}, job_name=execution_input["JobName"], data={...})`. The step's own
arguments (job name, data, hyperparameters...) are filled in, the request is checked against
botocore's model, and placeholders may sit in any field.

SageMaker SDK v3 objects are read too, where the user has them: a `ModelTrainer`, a `Processor`,
a `Transformer`, a `sagemaker.core` `Model` resource. Only their attributes are read (no import of
`sagemaker`, no call to AWS); what v3 would upload at `train()` (source code, local data) has no
request form yet, and raises.

`.sync` (wait for the job) is the default for training, processing and transform jobs, as in the
old SDK; model, endpoint config and endpoint steps are request-response.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

from ds_stepfunctions.inputs.placeholders import Reference
from ds_stepfunctions.steps.integration_resources import (
    get_service_integration_arn,
    integration_pattern,
)
from ds_stepfunctions.steps.requests import check_request, input_shape, member_shape, to_request
from ds_stepfunctions.steps.states import Task


class SageMakerApi(Enum):
    """A SageMaker API: its name is botocore's operation, its value the integration's action."""

    CreateTrainingJob = "createTrainingJob"
    CreateTransformJob = "createTransformJob"
    CreateModel = "createModel"
    CreateEndpointConfig = "createEndpointConfig"
    UpdateEndpoint = "updateEndpoint"
    CreateEndpoint = "createEndpoint"
    CreateProcessingJob = "createProcessingJob"


class _SageMakerStep(Task):
    """A Task sending one SageMaker request, built by the subclass from its arguments.

    The experiment config and tags go last, then `parameters=` (the remaining keyword
    arguments' own) is merged over it all, as in 2.3.0, and the result is checked against
    botocore's model of the operation. `wait` makes it a `.sync` integration.
    """

    api: SageMakerApi

    @property
    def operation(self) -> str:
        return self.api.name

    def __init__(self, state_id: str, request: dict[str, Any], kwargs: dict[str, Any], *,
                 tags: Any = None, experiment_config: Any = None, wait: bool = False,
                 resource_first: bool = True) -> None:
        if experiment_config is not None:
            request["ExperimentConfig"] = experiment_config
        if tags:
            request["Tags"] = tags_list(tags)
        request = merge(request, kwargs.pop("parameters", None) or {})
        check_request(self.operation, request, f"{state_id}: Parameters")
        resource = get_service_integration_arn("sagemaker", self.api, integration_pattern(wait))
        # The old SDK wrote ModelStep's Parameters before its Resource (the golden files have it).
        ordered = ({"resource": resource, "parameters": request} if resource_first
                   else {"parameters": request, "resource": resource})
        super().__init__(state_id, **kwargs, **ordered)


class TrainingStep(_SageMakerStep):
    """Runs a training job (CreateTrainingJob), by default until it ends.

    `estimator` is a CreateTrainingJob request (or a v3 `ModelTrainer`); `data` a channel's S3 URI,
    or {channel: S3 URI | Channel dict | training_input(...)}; `hyperparameters` are merged over
    the request's and stringified, as SageMaker requires.
    """

    api = SageMakerApi.CreateTrainingJob

    def __init__(self, state_id: str, estimator: Any, job_name: str | Reference,
                 data: Any = None, hyperparameters: Mapping[str, Any] | None = None,
                 mini_batch_size: int | None = None, experiment_config: Any = None,
                 wait_for_completion: bool = True, tags: Any = None,
                 output_data_config_path: str | Reference | None = None,
                 **kwargs: Any) -> None:
        self.estimator = estimator
        self.job_name = job_name
        request = training_request(estimator, state_id)
        if data is not None:
            request["InputDataConfig"] = training_channels(data, f"{state_id}: data")
        merged = {**request.get("HyperParameters", {}), **(hyperparameters or {})}
        if mini_batch_size is not None:
            merged["mini_batch_size"] = mini_batch_size
        if merged:
            request["HyperParameters"] = {k: _stringify(v) for k, v in merged.items()}
        request["TrainingJobName"] = job_name
        if output_data_config_path is not None:
            request.setdefault("OutputDataConfig", {})["S3OutputPath"] = output_data_config_path
        super().__init__(state_id, request, kwargs, tags=tags,
                         experiment_config=experiment_config, wait=wait_for_completion)

    def get_expected_model(self, model_name: str | Reference | None = None) -> dict[str, Any]:
        """The CreateModel request of the model this job will train, for a ModelStep: the
        training image and role, and the artifact from this step's output."""
        params = self.fields["parameters"]
        image = params.get("AlgorithmSpecification", {}).get("TrainingImage")
        if image is None:
            raise ValueError(f"{self.state_id} trains with an algorithm resource, not an image: "
                             "give ModelStep a CreateModel request with its container")
        return {
            "ExecutionRoleArn": params["RoleArn"],
            "ModelName": model_name if model_name is not None else self.job_name,
            "PrimaryContainer": {
                "Environment": {},
                "Image": image,
                "ModelDataUrl": self.output()["ModelArtifacts"]["S3ModelArtifacts"],
            },
        }


class ProcessingStep(_SageMakerStep):
    """Runs a processing job (CreateProcessingJob), by default until it ends.

    `processor` is a CreateProcessingJob request (or a v3 `Processor`); `inputs`/`outputs` are
    ProcessingInput/ProcessingOutput dicts (see `processing_input`/`processing_output`).
    """

    api = SageMakerApi.CreateProcessingJob

    def __init__(self, state_id: str, processor: Any, job_name: str | Reference,
                 inputs: list[Any] | None = None, outputs: list[Any] | None = None,
                 experiment_config: Any = None, container_arguments: Any = None,
                 container_entrypoint: Any = None, kms_key_id: str | Reference | None = None,
                 wait_for_completion: bool = True, tags: Any = None, **kwargs: Any) -> None:
        request = processing_request(processor, state_id)
        app = request.setdefault("AppSpecification", {})
        if container_arguments is not None:
            app["ContainerArguments"] = container_arguments
        if container_entrypoint is not None:
            app["ContainerEntrypoint"] = container_entrypoint
        if inputs:
            shape = member_shape(self.operation, "ProcessingInputs", "member")
            request["ProcessingInputs"] = [_as_request(i, shape, f"{state_id}: inputs[{n}]")
                                           for n, i in enumerate(inputs)]
        if outputs:
            shape = member_shape(self.operation, "ProcessingOutputConfig", "Outputs", "member")
            request.setdefault("ProcessingOutputConfig", {})["Outputs"] = [
                _as_request(o, shape, f"{state_id}: outputs[{n}]") for n, o in enumerate(outputs)]
        if kms_key_id is not None:
            request.setdefault("ProcessingOutputConfig", {})["KmsKeyId"] = kms_key_id
        request["ProcessingJobName"] = job_name
        super().__init__(state_id, request, kwargs, tags=tags,
                         experiment_config=experiment_config, wait=wait_for_completion)


class TransformStep(_SageMakerStep):
    """Runs a batch transform job (CreateTransformJob), by default until it ends.

    `transformer` is the rest of a CreateTransformJob request (TransformOutput,
    TransformResources...) or a v3 `Transformer`; the data arguments fill TransformInput.
    """

    api = SageMakerApi.CreateTransformJob

    def __init__(self, state_id: str, transformer: Any, job_name: str | Reference,
                 model_name: str | Reference, data: str | Reference,
                 data_type: str = "S3Prefix", content_type: str | None = None,
                 compression_type: str | None = None, split_type: str | None = None,
                 experiment_config: Any = None, wait_for_completion: bool = True,
                 tags: Any = None, input_filter: str | None = None,
                 output_filter: str | None = None, join_source: str | None = None,
                 **kwargs: Any) -> None:
        transform_input: dict[str, Any] = {
            "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": data}}}
        for key, value in (("ContentType", content_type), ("CompressionType", compression_type),
                           ("SplitType", split_type)):
            if value is not None:
                transform_input[key] = value
        request = {"TransformJobName": job_name, "ModelName": model_name,
                   "TransformInput": transform_input, **transform_request(transformer, state_id)}
        processing = {k: v for k, v in (("InputFilter", input_filter),
                                        ("OutputFilter", output_filter),
                                        ("JoinSource", join_source)) if v is not None}
        if processing:
            request["DataProcessing"] = processing
        super().__init__(state_id, request, kwargs, tags=tags,
                         experiment_config=experiment_config, wait=wait_for_completion)


class ModelStep(_SageMakerStep):
    """Creates a model (CreateModel) from a request dict, `TrainingStep.get_expected_model()`
    or a v3 `sagemaker.core` Model; `model_name` overrides its ModelName."""

    api = SageMakerApi.CreateModel

    def __init__(self, state_id: str, model: Any, model_name: str | Reference | None = None,
                 instance_type: str | None = None, tags: Any = None, **kwargs: Any) -> None:
        request = _as_request(model, input_shape(self.operation), f"{state_id}: model",
                              strict=False)
        if model_name is not None:
            request["ModelName"] = model_name
        super().__init__(state_id, request, kwargs, tags=tags, resource_first=False)


class EndpointConfigStep(_SageMakerStep):
    """Creates an endpoint configuration with one production variant (CreateEndpointConfig)."""

    api = SageMakerApi.CreateEndpointConfig

    def __init__(self, state_id: str, endpoint_config_name: str | Reference,
                 model_name: str | Reference, initial_instance_count: int | Reference,
                 instance_type: str | Reference, variant_name: str = "AllTraffic",
                 data_capture_config: Any = None, tags: Any = None, **kwargs: Any) -> None:
        request: dict[str, Any] = {
            "EndpointConfigName": endpoint_config_name,
            "ProductionVariants": [{"InitialInstanceCount": initial_instance_count,
                                    "InstanceType": instance_type, "ModelName": model_name,
                                    "VariantName": variant_name}],
        }
        if data_capture_config is not None:
            request["DataCaptureConfig"] = _as_request(
                data_capture_config, member_shape(self.operation, "DataCaptureConfig"),
                f"{state_id}: data_capture_config")
        super().__init__(state_id, request, kwargs, tags=tags)


class EndpointStep(_SageMakerStep):
    """Creates an endpoint (CreateEndpoint), or with `update=True` points an existing one at a
    new configuration (UpdateEndpoint)."""

    def __init__(self, state_id: str, endpoint_name: str | Reference,
                 endpoint_config_name: str | Reference, tags: Any = None, update: bool = False,
                 **kwargs: Any) -> None:
        self.api = SageMakerApi.UpdateEndpoint if update else SageMakerApi.CreateEndpoint
        request = {"EndpointConfigName": endpoint_config_name, "EndpointName": endpoint_name}
        super().__init__(state_id, request, kwargs, tags=tags)


# Request dicts with the defaults of the old SDK's input classes.

def training_input(s3_data: str | Reference, content_type: str | None = None,
                   distribution: str = "FullyReplicated", s3_data_type: str = "S3Prefix",
                   input_mode: str | None = None, compression: str | None = None,
                   record_wrapping: str | None = None) -> dict[str, Any]:
    """A training Channel (without its name), as `sagemaker.inputs.TrainingInput` made it."""
    channel: dict[str, Any] = {"DataSource": {"S3DataSource": {
        "S3DataType": s3_data_type, "S3Uri": s3_data, "S3DataDistributionType": distribution}}}
    for key, value in (("ContentType", content_type), ("CompressionType", compression),
                       ("RecordWrapperType", record_wrapping), ("InputMode", input_mode)):
        if value is not None:
            channel[key] = value
    return channel


def processing_input(source: str | Reference, destination: str, input_name: str | None = None,
                     s3_data_type: str = "S3Prefix", s3_input_mode: str = "File",
                     s3_data_distribution_type: str = "FullyReplicated",
                     s3_compression_type: str = "None") -> dict[str, Any]:
    """A ProcessingInput, as `sagemaker.processing.ProcessingInput` made it."""
    item: dict[str, Any] = {"InputName": input_name} if input_name else {}
    item.update({"AppManaged": False, "S3Input": {
        "S3Uri": source, "LocalPath": destination, "S3DataType": s3_data_type,
        "S3InputMode": s3_input_mode, "S3DataDistributionType": s3_data_distribution_type,
        "S3CompressionType": s3_compression_type}})
    return item


def processing_output(source: str, destination: str | Reference, output_name: str,
                      s3_upload_mode: str = "EndOfJob") -> dict[str, Any]:
    """A ProcessingOutput, as `sagemaker.processing.ProcessingOutput` made it."""
    return {"OutputName": output_name, "AppManaged": False, "S3Output": {
        "S3Uri": destination, "LocalPath": source, "S3UploadMode": s3_upload_mode}}


# Reading the request out of a dict or a v3 SDK object.

def training_request(estimator: Any, state_id: str) -> dict[str, Any]:
    """A CreateTrainingJob request from a dict or a v3 `ModelTrainer` (read, never run)."""
    if isinstance(estimator, Mapping):
        return copy.deepcopy(dict(estimator))
    if not hasattr(estimator, "training_image") or not hasattr(estimator, "compute"):
        raise TypeError(f"{state_id}: estimator is a {type(estimator).__name__}; pass a "
                        "CreateTrainingJob request dict or a SageMaker SDK v3 ModelTrainer")
    if getattr(estimator, "source_code", None) is not None:
        raise ValueError(f"{state_id}: this ModelTrainer has source_code, which ModelTrainer "
                         "uploads to S3 when train() runs; a state machine cannot. Package the "
                         "code in the image (or upload it and add a channel), and drop "
                         "source_code")
    where = f"{state_id}: estimator"
    op = "CreateTrainingJob"
    spec = {"TrainingImage": estimator.training_image,
            "AlgorithmName": getattr(estimator, "algorithm_name", None),
            "TrainingInputMode": getattr(estimator, "training_input_mode", None) or "File",
            "TrainingImageConfig": getattr(estimator, "training_image_config", None)}
    compute = estimator.compute
    networking = getattr(estimator, "networking", None)
    request: dict[str, Any] = {
        "AlgorithmSpecification": to_request(_present(spec),
                                             member_shape(op, "AlgorithmSpecification"), where),
        "RoleArn": estimator.role,
        "ResourceConfig": _model_fields(compute, member_shape(op, "ResourceConfig"), where,
                                        lift={"enable_managed_spot_training"}),
        "StoppingCondition": _as_request(estimator.stopping_condition,
                                         member_shape(op, "StoppingCondition"), where),
        "OutputDataConfig": _as_request(estimator.output_data_config,
                                        member_shape(op, "OutputDataConfig"), where),
        "EnableManagedSpotTraining": getattr(compute, "enable_managed_spot_training", None),
        "CheckpointConfig": _as_request(getattr(estimator, "checkpoint_config", None),
                                        member_shape(op, "CheckpointConfig"), where),
        "Environment": getattr(estimator, "environment", None) or None,
        "HyperParameters": {k: v if isinstance(v, (str, Reference)) else json.dumps(v)
                            for k, v in (getattr(estimator, "hyperparameters", None)
                                         or {}).items()} or None,
        "Tags": tags_list(getattr(estimator, "tags", None)),
    }
    if networking is not None:
        request["VpcConfig"] = _model_fields(
            networking, member_shape(op, "VpcConfig"), where,
            lift={"enable_network_isolation", "enable_inter_container_traffic_encryption"})
        request["EnableNetworkIsolation"] = networking.enable_network_isolation
        request["EnableInterContainerTrafficEncryption"] = (
            networking.enable_inter_container_traffic_encryption)
    channels = getattr(estimator, "input_data_config", None)
    if channels:
        request["InputDataConfig"] = training_channels(channels, where)
    return _present(request)


def training_channels(data: Any, where: str) -> list[dict[str, Any]]:
    """InputDataConfig from the forms the old `data=` took, plus v3 InputData/Channel."""
    if isinstance(data, (str, Reference)) or (isinstance(data, Mapping) and "DataSource" in data):
        data = {"training": data}  # the old SDK's default channel name
    if isinstance(data, Mapping):
        return [{**_channel(spec, f"{where}.{name}"), "ChannelName": name}
                for name, spec in data.items()]
    if isinstance(data, (list, tuple)):
        channels = [_channel(spec, f"{where}[{i}]") for i, spec in enumerate(data)]
        for i, channel in enumerate(channels):
            if "ChannelName" not in channel:
                raise ValueError(f"{where}[{i}] has no channel name")
        return channels
    return [_channel(data, where)]


def _channel(spec: Any, where: str) -> dict[str, Any]:
    if isinstance(spec, (str, Reference)):
        if isinstance(spec, str) and not spec.startswith("s3://"):
            raise ValueError(f"{where} is {spec!r}: a state machine reads training data from "
                             "S3; upload it and give its s3:// URI")
        return training_input(spec)
    if isinstance(spec, Mapping):
        return copy.deepcopy(dict(spec))
    if hasattr(spec, "config") and isinstance(spec.config, Mapping):  # v2 TrainingInput
        return copy.deepcopy(dict(spec.config))
    if hasattr(spec, "data_source") and hasattr(spec, "channel_name"):  # v3 InputData
        source = spec.data_source
        if isinstance(source, str) and not source.startswith("s3://"):
            raise ValueError(f"{where} is the local path {source!r}: ModelTrainer uploads it "
                             "at train(); a state machine cannot. Upload it and use its s3:// URI")
        channel: dict[str, Any]
        if isinstance(source, (str, Reference)):
            channel = training_input(source)
        else:  # an S3DataSource
            shape = member_shape("CreateTrainingJob", "InputDataConfig", "member", "DataSource",
                                 "S3DataSource")
            channel = {"DataSource": {"S3DataSource": to_request(source, shape, where)}}
        channel["ChannelName"] = spec.channel_name
        if getattr(spec, "content_type", None):
            channel["ContentType"] = spec.content_type
        channel["InputMode"] = "File"  # what ModelTrainer gives an InputData channel
        return channel
    return to_request(spec, member_shape("CreateTrainingJob", "InputDataConfig", "member"), where)


def processing_request(processor: Any, state_id: str) -> dict[str, Any]:
    """A CreateProcessingJob request from a dict or a v3 `Processor` (read, never run)."""
    if isinstance(processor, Mapping):
        return copy.deepcopy(dict(processor))
    if not hasattr(processor, "image_uri") or not hasattr(processor, "instance_type"):
        raise TypeError(f"{state_id}: processor is a {type(processor).__name__}; pass a "
                        "CreateProcessingJob request dict or a SageMaker SDK v3 Processor")
    cluster = {"InstanceCount": processor.instance_count,
               "InstanceType": processor.instance_type,
               "VolumeSizeInGB": getattr(processor, "volume_size_in_gb", None),
               "VolumeKmsKeyId": getattr(processor, "volume_kms_key", None)}
    network = getattr(processor, "network_config", None)
    runtime = getattr(processor, "max_runtime_in_seconds", None)
    request = {
        "AppSpecification": _present({"ImageUri": processor.image_uri,
                                      "ContainerEntrypoint": getattr(processor, "entrypoint",
                                                                     None),
                                      "ContainerArguments": getattr(processor, "arguments",
                                                                    None)}),
        "ProcessingResources": {"ClusterConfig": _present(cluster)},
        "RoleArn": processor.role,
        "Environment": getattr(processor, "env", None) or None,
        "StoppingCondition": {"MaxRuntimeInSeconds": runtime} if runtime else None,
        "NetworkConfig": network._to_request_dict() if network is not None else None,
        "Tags": tags_list(getattr(processor, "tags", None)),
    }
    if getattr(processor, "output_kms_key", None):
        request["ProcessingOutputConfig"] = {"KmsKeyId": processor.output_kms_key}
    return _present(request)


def transform_request(transformer: Any, state_id: str) -> dict[str, Any]:
    """The transformer's part of CreateTransformJob from a dict or a v3 `Transformer`."""
    if isinstance(transformer, Mapping):
        return copy.deepcopy(dict(transformer))
    if not hasattr(transformer, "output_path") or not hasattr(transformer, "instance_type"):
        raise TypeError(f"{state_id}: transformer is a {type(transformer).__name__}; pass "
                        "CreateTransformJob fields as a dict or a SageMaker SDK v3 Transformer")
    return _present({
        "TransformOutput": _present({"S3OutputPath": transformer.output_path,
                                     "Accept": getattr(transformer, "accept", None),
                                     "AssembleWith": getattr(transformer, "assemble_with", None),
                                     "KmsKeyId": getattr(transformer, "output_kms_key", None)}),
        "TransformResources": _present({"InstanceCount": transformer.instance_count,
                                        "InstanceType": transformer.instance_type,
                                        "VolumeKmsKeyId": getattr(transformer, "volume_kms_key",
                                                                  None)}),
        "BatchStrategy": getattr(transformer, "strategy", None),
        "MaxConcurrentTransforms": getattr(transformer, "max_concurrent_transforms", None),
        "MaxPayloadInMB": getattr(transformer, "max_payload", None),
        "Environment": getattr(transformer, "env", None) or None,
        "Tags": tags_list(getattr(transformer, "tags", None)),
    })


def tags_list(tags: Any) -> list[Mapping[str, Any]] | None:
    """Tags as SageMaker takes them: [{"Key": k, "Value": v}] (from a dict or such a list)."""
    if not tags:
        return None
    if isinstance(tags, Mapping):
        return [{"Key": k, "Value": v} for k, v in tags.items()]
    return [t if isinstance(t, Mapping) else {"Key": t.key, "Value": t.value} for t in tags]


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override` merged in, objects key by key (the old SDK's `parameters=`)."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge(dict(result[key]), value)
        else:
            result[key] = value
    return result


def _stringify(value: Any) -> Any:
    """SageMaker hyperparameters are strings; the old SDK wrote str(value) (a ModelTrainer's
    are JSON-encoded first, as v3 sends them)."""
    return value if isinstance(value, (str, Reference)) else str(value)


def _as_request(value: Any, shape: Any, where: str, strict: bool = True) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return copy.deepcopy(dict(value))
    if hasattr(value, "_to_request_dict"):  # v2/v3 ProcessingInput, DataCaptureConfig...
        return value._to_request_dict()
    return to_request(value, shape, where, strict)


def _model_fields(obj: Any, shape: Any, where: str, lift: set[str]) -> Any:
    """A v3 config that extends an API shape with fields placed elsewhere in the request."""
    if obj is None or isinstance(obj, Mapping):
        return obj
    return to_request(obj, shape, where, exclude=lift)


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """The entries that are set (not None): what a v3 object leaves unset stays out of the
    request, so that SageMaker applies its defaults."""
    return {k: v for k, v in values.items() if v is not None}
