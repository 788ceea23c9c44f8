"""SageMaker models and endpoint configurations: validated Describe documents, as AWS keeps them.

Both are plain records: deleting one never touches a running endpoint (an endpoint keeps what
it deployed), as in AWS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sagepipe.config import Settings, arn
from sagepipe.images import ImageRegistry, UnknownImage
from sagepipe.s3.object_store import ObjectStore, parse_s3_uri
from sagepipe.sagemaker.deployments import (
    DEFAULT_STARTUP_TIMEOUT,
    Deployment,
    VariantSpec,
    new_deployment_id,
)
from sagepipe.sagemaker.exceptions import (
    NotEmulated,
    ResourceInUse,
    ResourceNotFound,
    ValidationException,
)
from sagepipe.sagemaker.listing import list_page
from sagepipe.sagemaker.resources import Document, Resources

MODEL = "Model"
ENDPOINT_CONFIG = "EndpointConfig"
ENDPOINT = "Endpoint"
# kind -> (how SageMaker's messages name it, the ARN's resource type)
KINDS = {MODEL: ("model", "model"),
         ENDPOINT_CONFIG: ("endpoint configuration", "endpoint-config"),
         ENDPOINT: ("endpoint", "endpoint")}
MODEL_FIELDS = ("ModelName", "PrimaryContainer", "Containers", "InferenceExecutionConfig",
                "ExecutionRoleArn", "VpcConfig")
CONFIG_FIELDS = ("EndpointConfigName", "ProductionVariants", "DataCaptureConfig", "KmsKeyId",
                 "ExecutionRoleArn", "VpcConfig", "EnableNetworkIsolation")
NOT_EMULATED_CONFIG = ("ShadowProductionVariants", "AsyncInferenceConfig", "ExplainerConfig")


def not_emulated(feature: str) -> NotEmulated:
    return NotEmulated(f"sagepipe's local SageMaker does not emulate {feature}; run it against "
                       "AWS.")


def model_container(model: Document) -> dict[str, Any]:
    """The one container a model serves with (PrimaryContainer, or the only Containers entry)."""
    return model.get("PrimaryContainer") or model["Containers"][0]


class ModelCatalog:
    """CreateModel, CreateEndpointConfig and their Describe, List and Delete calls."""

    def __init__(self, resources: Resources, settings: Settings, s3: ObjectStore,
                 images: ImageRegistry) -> None:
        self.resources = resources
        self.settings = settings
        self.s3 = s3
        self.images = images

    # -- shared by every kind --------------------------------------------------------------

    def resource_arn(self, kind: str, name: str) -> str:
        return arn("sagemaker", f"{KINDS[kind][1]}/{name.lower()}", self.settings.region)

    def unknown(self, kind: str, name: str) -> ValidationException:
        """SageMaker's answer for a name it does not know (a ValidationException)."""
        return ValidationException(
            f'Could not find {KINDS[kind][0]} "{self.resource_arn(kind, name)}".')

    def fetch(self, kind: str, name: str) -> Document:
        doc = self.resources.find(kind, name)
        if doc is None:
            raise self.unknown(kind, name)
        return doc

    def change(self, kind: str, name: str, apply: Callable[[Document], None]) -> Document:
        """Read-modify-write a document in one transaction; `apply` may raise to refuse."""
        try:
            return self.resources.update(kind, name, apply)
        except ResourceNotFound:
            raise self.unknown(kind, name) from None

    def insert(self, kind: str, name: str, doc: Document) -> None:
        try:
            self.resources.create(kind, name, doc)
        except ResourceInUse:
            raise ValidationException(f"Cannot create already existing {KINDS[kind][0]} "
                                      f'"{self.resource_arn(kind, name)}".') from None

    def remove(self, kind: str, name: str) -> None:
        self.fetch(kind, name)
        self.resources.delete(kind, name)

    # -- models ------------------------------------------------------------------------------

    def create_model(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ModelName"]
        containers = params.get("Containers", [])
        if "PrimaryContainer" in params and containers:
            raise ValidationException("Specify either PrimaryContainer or Containers, not both.")
        if not params.get("PrimaryContainer") and not containers:
            raise ValidationException("Specify the model's PrimaryContainer (Image, ModelDataUrl).")
        if len(containers) > 1:
            raise not_emulated("inference pipelines (a model with several Containers)")
        container = params.get("PrimaryContainer") or containers[0]
        self._check_container(container)
        doc = {field: params[field] for field in MODEL_FIELDS if field in params}
        doc.update(ModelArn=self.resource_arn(MODEL, name), CreationTime=time.time(),
                   EnableNetworkIsolation=params.get("EnableNetworkIsolation", False))
        self.insert(MODEL, name, doc)
        return {"ModelArn": doc["ModelArn"]}

    def _check_container(self, container: dict[str, Any]) -> None:
        if container.get("Mode") == "MultiModel":
            raise not_emulated("multi-model endpoints (Mode=MultiModel)")
        for feature in ("ModelPackageName", "ModelDataSource", "AdditionalModelDataSources"):
            if feature in container:
                raise not_emulated(f"{feature} in a model's container; use Image and "
                                   "ModelDataUrl")
        image = container.get("Image")
        if not image:
            raise ValidationException("The model's container needs an Image.")
        try:
            self.images.resolve(image)
        except UnknownImage as exc:
            raise ValidationException(f"Could not find image {image}. {exc}") from None
        if url := container.get("ModelDataUrl"):
            self._check_model_data(url)

    def _check_model_data(self, url: str) -> None:
        if not url.startswith("s3://"):
            raise ValidationException(
                f"ModelDataUrl {url} is not an s3:// URL; locally, upload the "
                "archive to the local S3 and pass s3://bucket/key.")
        if not self.s3.exists(url):
            raise ValidationException(
                f"Could not access model data at {url}. There is no such object "
                "in the local S3; upload model.tar.gz there first (e.g. `aws "
                f"--endpoint-url {self.settings.endpoint_url} s3 cp model.tar.gz "
                f"{url}`).")

    def describe_model(self, params: dict[str, Any]) -> Document:
        return self.fetch(MODEL, params["ModelName"])

    def delete_model(self, params: dict[str, Any]) -> dict[str, Any]:
        self.remove(MODEL, params["ModelName"])
        return {}

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        return list_page(self.resources.all(MODEL), params, key="Models", name="ModelName",
                         fields=("ModelName", "ModelArn", "CreationTime"))

    # -- endpoint configurations ------------------------------------------------------------

    def create_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointConfigName"]
        for feature in NOT_EMULATED_CONFIG:
            if params.get(feature):
                raise not_emulated(feature)
        variants = [self._variant(v) for v in params["ProductionVariants"]]
        names = [v["VariantName"] for v in variants]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValidationException(
                f"VariantName must be unique within an endpoint configuration; "
                f"repeated: {', '.join(dupes)}.")
        if capture := params.get("DataCaptureConfig"):
            self._check_capture(capture)
        doc = {field: params[field] for field in CONFIG_FIELDS if field in params}
        doc.update(ProductionVariants=variants, CreationTime=time.time(),
                   EndpointConfigArn=self.resource_arn(ENDPOINT_CONFIG, name))
        self.insert(ENDPOINT_CONFIG, name, doc)
        return {"EndpointConfigArn": doc["EndpointConfigArn"]}

    def _variant(self, variant: dict[str, Any]) -> dict[str, Any]:
        label = variant["VariantName"]
        if not variant.get("ModelName"):
            raise ValidationException(f"ProductionVariant {label} needs a ModelName.")
        self.fetch(MODEL, variant["ModelName"])
        serverless = "ServerlessConfig" in variant
        sized = "InstanceType" in variant and "InitialInstanceCount" in variant
        if serverless == sized:
            raise ValidationException(f"ProductionVariant {label}: specify either InstanceType and "
                                      "InitialInstanceCount, or ServerlessConfig.")
        return {"InitialVariantWeight": 1.0, **variant}

    def _check_capture(self, capture: dict[str, Any]) -> None:
        parse_s3_uri(capture["DestinationS3Uri"])
        modes = [option["CaptureMode"] for option in capture["CaptureOptions"]]
        if not modes or len(set(modes)) != len(modes):
            raise ValidationException(
                "DataCaptureConfig.CaptureOptions must list Input and/or Output, "
                "each once.")

    def describe_endpoint_config(self, params: dict[str, Any]) -> Document:
        return self.fetch(ENDPOINT_CONFIG, params["EndpointConfigName"])

    def delete_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        self.remove(ENDPOINT_CONFIG, params["EndpointConfigName"])
        return {}

    def list_endpoint_configs(self, params: dict[str, Any]) -> dict[str, Any]:
        return list_page(self.resources.all(ENDPOINT_CONFIG), params, key="EndpointConfigs",
                         name="EndpointConfigName",
                         fields=("EndpointConfigName", "EndpointConfigArn", "CreationTime"))

    # -- what a configuration deploys --------------------------------------------------------

    def deployment(self, config_name: str) -> Deployment:
        """Snapshot a configuration and its models (which must exist now, as in AWS)."""
        config = self.fetch(ENDPOINT_CONFIG, config_name)
        variants = []
        for variant in config["ProductionVariants"]:
            container = model_container(self.fetch(MODEL, variant["ModelName"]))
            variants.append(VariantSpec(
                name=variant["VariantName"], model=variant["ModelName"],
                image=container["Image"], model_data_url=container.get("ModelDataUrl"),
                environment=container.get("Environment", {}),
                weight=variant["InitialVariantWeight"],
                instance_type=variant.get("InstanceType"),
                instance_count=variant.get("InitialInstanceCount"),
                serverless=variant.get("ServerlessConfig"),
                startup_timeout=variant.get("ContainerStartupHealthCheckTimeoutInSeconds",
                                            DEFAULT_STARTUP_TIMEOUT)))
        return Deployment(new_deployment_id(), config_name, variants,
                          config.get("DataCaptureConfig"))
