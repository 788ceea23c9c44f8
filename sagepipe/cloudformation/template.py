"""Reading and rendering templates: parsing, the reference graph, rendering with identities."""

from __future__ import annotations

import contextlib
import io
import json
import re
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from cfn_tools import load_yaml
from cloud_radar.cf.unit import Template

from sagepipe.config import ACCOUNT_ID, DEFAULT_REGION, arn

SUB_REFERENCE = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z0-9.]+)?\}")


class TemplateError(ValueError):
    """The template or its parameters are invalid; the message says what to fix."""


def load(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON template (short-form tags such as `!Ref` included)."""
    try:
        body = load_yaml(path.read_text())
    except Exception as exc:  # cfn-flip raises yaml and json errors alike
        raise TemplateError(f"{path} is not a valid template: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    return body


def references(node: Any) -> set[str]:
    """Logical names a template fragment refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(SUB_REFERENCE.findall(text) if isinstance(text, str) else ())
                if isinstance(value, list) and len(value) > 1:
                    found.update(references(value[1]))
            else:
                found.update(references(value))
    elif isinstance(node, list):
        for item in node:
            found.update(references(item))
    return found


def creation_order(resources: dict[str, Any]) -> list[str]:
    """Logical names in an order where every resource comes after what it refers to."""
    graph = {}
    for name, resource in resources.items():
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        graph[name] = (references(resource) | set(depends)) & resources.keys()
    return list(TopologicalSorter(graph).static_order())


def render(body: dict[str, Any], parameters: dict[str, str],
           identities: dict[str, tuple[str, dict[str, str]]],
           stack_name: str, stack_id: str | None = None) -> dict[str, Any]:
    """Resolve parameters, conditions and intrinsics; `identities` gives each resource's
    `Ref` value and `Fn::GetAtt` attributes; `AWS::StackId` is `stack_id` (a placeholder ARN
    when rendering outside a stack). Raises TemplateError with cloud-radar's reason."""
    body = json.loads(json.dumps(body))  # plain dicts: cloud-radar YAML-dumps its input
    for name, (ref, attributes) in identities.items():
        if name in body["Resources"]:
            metadata = body["Resources"][name].setdefault("Metadata", {})
            metadata["Cloud-Radar"] = {"ref": ref, "attribute-values": attributes}
    with contextlib.redirect_stdout(io.StringIO()):  # cloud-radar 0.17 prints every template
        template = Template(body)
    template.AccountId = ACCOUNT_ID
    template.StackName = stack_name
    template.StackId = stack_id or arn("cloudformation", f"stack/{stack_name}/local")
    known = set(body.get("Parameters", {}))
    unknown = set(parameters) - known
    if unknown:
        raise TemplateError(f"Parameters {sorted(unknown)} do not exist in the template")
    try:
        rendered = template.render(dict(parameters), region=DEFAULT_REGION)
    except (ValueError, KeyError, TypeError) as exc:
        raise TemplateError(str(exc).strip("'\"")) from None
    for resource in rendered["Resources"].values():
        resource.pop("Metadata", None)
    return rendered
