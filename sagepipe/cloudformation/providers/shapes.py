"""A resource's CloudFormation properties as the input of the AWS API that creates it, read
through botocore's shape of that input: CloudFormation spells members in PascalCase
(`Environment.EnvironmentVariables[].Name`), the API in its own case (`environment.
environmentVariables[].name`, `source.buildspec`), so members are matched without regard to
case. Properties the API has no member for are left out (the caller says which it honours)."""

from __future__ import annotations

import json
from typing import Any

from botocore.model import Shape

from sagepipe.protocols.service_models import service_model


def api_input(service: str, operation: str, member: str | None,
              props: dict[str, Any]) -> dict[str, Any]:
    """`props` as the input of `operation` (or of its member `member`, e.g. CreatePipeline's
    `pipeline`)."""
    shape = service_model(service).operation_model(operation).input_shape
    if member is not None:
        shape = shape.members[member]
    return convert(props, shape)


def convert(value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = {name.lower(): (name, member) for name, member in shape.members.items()}
        return {members[key.lower()][0]: convert(item, members[key.lower()][1])
                for key, item in value.items() if key.lower() in members}
    if kind == "list" and isinstance(value, list):
        return [convert(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: convert(item, shape.value) for key, item in value.items()}
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return value
