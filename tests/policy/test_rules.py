"""The real templates comply with every policy of rules.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from .plants import PLANTS
from .rules import RULES, as_list, load, statements, violations

# Statements that allow on every resource, and why each cannot name its resources. A new one
# fails test_statements_on_every_resource_are_reviewed until it is reviewed and listed here.
REVIEWED_ON_EVERY_RESOURCE = {
    "PipelineRole/pipeline/ValidateTemplates": "ValidateTemplate has no resource-level "
                                               "permissions",
    "BuildImageRole/build-image/RegistryLogin": "GetAuthorizationToken has no resource-level "
                                                "permissions",
    "SageMakerExecutionRole/jobs-and-endpoints/RegistryLogin": "same",
    "SageMakerExecutionRole/jobs-and-endpoints/JobMetrics": "PutMetricData has none either; "
                                                            "scoped by namespace condition",
    "CloudFormationRole/endpoint-stacks/ListAndAutoScaling": "list calls, and scalable "
                                                             "targets with generated ids",
}


@pytest.mark.parametrize("name", ["pipeline", "endpoint", "api"])
def test_template_complies(templates: dict[str, Path], name: str):
    assert violations(load(templates[name])) == []


def test_every_rule_has_a_planted_defect():
    assert {plant.rule for plant in PLANTS} == set(RULES)


def test_statements_on_every_resource_are_reviewed(templates: dict[str, Path]):
    unscoped = {where for path in templates.values()
                for where, statement in statements(load(path))
                if statement.get("Effect") == "Allow"
                and "*" in as_list(statement.get("Resource"))}
    assert unscoped == set(REVIEWED_ON_EVERY_RESOURCE)
