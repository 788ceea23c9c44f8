"""A workflow as a CloudFormation template, in the old SDK's layout.

One `AWS::StepFunctions::StateMachine` named `StateMachineComponent`, its definition as a
`DefinitionString` literal block (JSON, indent 2), in the key order the old SDK wrote.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from ds_stepfunctions.workflow.stepfunctions import Workflow

logger = logging.getLogger(__name__)


class _Dumper(yaml.SafeDumper):
    """Keeps key order and writes multi-line strings as `|` blocks."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(dict, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map",
                                                                    data.items()))


def build_cloudformation_template(workflow: Workflow, description: str | None = None) -> str:
    """The template's YAML. The definition is copied as it is: ARNs of a region or an account
    (functions, roles, images) are not turned into parameters, hence the warning, as in 2.3.0."""
    logger.warning("To reuse the CloudFormation template in different regions, please make "
                   "sure to update the region specific AWS resources in the StateMachine "
                   "definition.")
    properties: dict[str, Any] = {
        "StateMachineName": workflow.name,
        "DefinitionString": json.dumps(workflow.definition.to_dict(), indent=2),
        "RoleArn": workflow.role,
    }
    if workflow.tags:
        properties["Tags"] = [{"Key": t["key"], "Value": t["value"]} for t in workflow.tags]
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description or "CloudFormation template for AWS Step Functions - "
                                       "State Machine",
        "Resources": {"StateMachineComponent": {"Type": "AWS::StepFunctions::StateMachine",
                                                "Properties": properties}},
    }
    return yaml.dump(template, Dumper=_Dumper, default_flow_style=False, sort_keys=False,
                     width=1_000_000)
