"""The resource types the local CloudFormation creates for real, through the local SageMaker API.

Each type says what `Ref` and `Fn::GetAtt` return, which property changes CloudFormation
applies in place (the rest replace the resource), and how to create, update and delete it.
Property values are coerced to the API's types with botocore's input shapes (a `!Ref` to a
Number parameter arrives as a string, as in CloudFormation).
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from sagepipe.cloudformation import serverless
from sagepipe.config import arn
from sagepipe.protocols.service_models import service_model

WAIT = {"Delay": 1, "MaxAttempts": 900}


class ResourceFailed(RuntimeError):
    """A resource could not be created, updated or deleted; the message is the reason."""


def generated_name(logical_id: str, limit: int = 63) -> str:
    """A physical name in CloudFormation's style, `<LogicalId>-<random>`."""
    suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
    return f"{logical_id[:limit - 13]}-{suffix}"


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


def call(fn: Any, **params: Any) -> dict[str, Any]:
    try:
        return fn(**params)
    except ClientError as exc:
        error = exc.response["Error"]
        raise ResourceFailed(f"{error.get('Code')}: {error.get('Message')}") from None


class SageMakerResource:
    type_name = ""
    name_property = ""
    kind = ""  # the ARN's resource kind
    create_operation = ""
    updatable: frozenset[str] = frozenset({"Tags"})

    def identity(self, name: str) -> tuple[str, dict[str, str]]:
        return arn("sagemaker", f"{self.kind}/{name.lower()}"), {self.name_property: name}

    def physical_name(self, logical_id: str, props: dict[str, Any]) -> str:
        return props.get(self.name_property) or generated_name(logical_id)

    def create(self, sm: Any, name: str, props: dict[str, Any]) -> None:
        params = api_params(self.create_operation, {**props, self.name_property: name})
        call(getattr(sm, _snake(self.create_operation)), **params)

    def update(self, sm: Any, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Only tags reach here for immutable types; tags are not emulated locally."""

    def delete(self, sm: Any, name: str) -> None:
        try:
            getattr(sm, _snake(self.create_operation.replace("Create", "Delete")))(
                **{self.name_property: name})
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

    def create(self, sm: Any, name: str, props: dict[str, Any]) -> None:
        super().create(sm, name, props)
        self._wait_in_service(sm, name, "create")

    def update(self, sm: Any, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old.get("EndpointConfigName") == new.get("EndpointConfigName"):
            return
        call(sm.update_endpoint, **api_params("UpdateEndpoint", {**new, "EndpointName": name}))
        self._wait_in_service(sm, name, "update")
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointConfigName"] != new["EndpointConfigName"]:
            raise ResourceFailed(f"update of endpoint {name} was rolled back: "
                                 f"{described.get('FailureReason', 'no reason given')}")

    def delete(self, sm: Any, name: str) -> None:
        super().delete(sm, name)
        try:
            sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=WAIT)
        except WaiterError as exc:
            raise ResourceFailed(f"endpoint {name} was not deleted: {exc}") from None

    @staticmethod
    def _wait_in_service(sm: Any, name: str, verb: str) -> None:
        try:
            sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=WAIT)
        except WaiterError:
            reason = sm.describe_endpoint(EndpointName=name).get("FailureReason", "unknown")
            raise ResourceFailed(f"endpoint {name} failed to {verb}: {reason}") from None


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


EMULATED: dict[str, Any] = {t.type_name: t for t in
                            (Model(), EndpointConfig(), Endpoint(), *serverless.TYPES)}
