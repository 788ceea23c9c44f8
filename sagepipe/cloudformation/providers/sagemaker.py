"""SageMaker models, endpoint configs and endpoints, created for real through the local
SageMaker API. Property values are coerced to the API's types with botocore's input shapes (a
`!Ref` to a Number parameter arrives as a string, as in CloudFormation)."""

from __future__ import annotations

from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError, WaiterError

from sagepipe.cloudformation.providers.base import Context, ResourceFailed, ResourceProvider, call
from sagepipe.protocols.service_models import service_model

WAIT = {"Delay": 1, "MaxAttempts": 900}


def coerce(value: Any, shape: Any) -> Any:
    """Convert CloudFormation's strings to the numbers and booleans the API shape expects."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: coerce(v, shape.members[k]) if k in shape.members else v
                for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [coerce(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: coerce(v, shape.value) for k, v in value.items()}
    if isinstance(value, str):
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
        if kind == "boolean":
            return value.lower() == "true"
    return value


def api_params(operation: str, props: dict[str, Any]) -> dict[str, Any]:
    shape = service_model("sagemaker").operation_model(operation).input_shape
    return coerce({k: v for k, v in props.items() if k in shape.members}, shape)


class SageMakerResource(ResourceProvider):
    """`Ref` is the resource's ARN; `Fn::GetAtt <Name property>` its name."""

    kind = ""  # the ARN's resource kind
    create_operation = ""
    emulated = True

    def ref(self, ctx: Context, name: str) -> str:
        return ctx.arn("sagemaker", f"{self.kind}/{name.lower()}")

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {self.name_property: name}

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        params = api_params(self.create_operation, {**props, self.name_property: name})
        call(getattr(ctx.client("sagemaker"), xform_name(self.create_operation)), **params)

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Only tags reach here for immutable types; tags are not emulated locally."""

    def delete(self, ctx: Context, name: str) -> None:
        operation = xform_name(self.create_operation.replace("Create", "Delete"))
        try:
            getattr(ctx.client("sagemaker"), operation)(**{self.name_property: name})
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("ResourceNotFound", "ValidationException"):
                raise ResourceFailed(exc.response["Error"]["Message"]) from None


class Model(SageMakerResource):
    type_name, name_property, kind, create_operation = (
        "AWS::SageMaker::Model", "ModelName", "model", "CreateModel")


class EndpointConfig(SageMakerResource):
    type_name, name_property, kind, create_operation = (
        "AWS::SageMaker::EndpointConfig", "EndpointConfigName", "endpoint-config",
        "CreateEndpointConfig")


class Endpoint(SageMakerResource):
    """An endpoint is updated in place (blue/green) when its endpoint config changes."""

    type_name, name_property, kind, create_operation = (
        "AWS::SageMaker::Endpoint", "EndpointName", "endpoint", "CreateEndpoint")
    updatable = frozenset({"EndpointConfigName", "DeploymentConfig", "RetainAllVariantProperties",
                           "RetainDeploymentConfig", "ExcludeRetainedVariantProperties", "Tags"})

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        super().create(ctx, name, props)
        self._wait_in_service(ctx, name, "create")

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old.get("EndpointConfigName") == new.get("EndpointConfigName"):
            return
        sm = ctx.client("sagemaker")
        call(sm.update_endpoint, **api_params("UpdateEndpoint", {**new, "EndpointName": name}))
        self._wait_in_service(ctx, name, "update")
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointConfigName"] != new["EndpointConfigName"]:
            raise ResourceFailed(f"update of endpoint {name} was rolled back: "
                                 f"{described.get('FailureReason', 'no reason given')}")

    def delete(self, ctx: Context, name: str) -> None:
        super().delete(ctx, name)
        try:
            ctx.client("sagemaker").get_waiter("endpoint_deleted").wait(
                EndpointName=name, WaiterConfig=WAIT)
        except WaiterError as exc:
            raise ResourceFailed(f"endpoint {name} was not deleted: {exc}") from None

    @staticmethod
    def _wait_in_service(ctx: Context, name: str, verb: str) -> None:
        sm = ctx.client("sagemaker")
        try:
            sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=WAIT)
        except WaiterError:
            reason = sm.describe_endpoint(EndpointName=name).get("FailureReason", "unknown")
            raise ResourceFailed(f"endpoint {name} failed to {verb}: {reason}") from None
