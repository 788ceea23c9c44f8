"""The real templates comply with every policy of rules.py."""

from __future__ import annotations

import copy
import json
import subprocess
import warnings
from pathlib import Path

import pytest

from .checkers_kit import REPO
from .plants_kit import PLANTS
from .rules_kit import (
    RULES,
    InstanceTypeChange,
    as_list,
    instance_type_change,
    load,
    statements,
    violations,
)

PROD_CONFIG = "CloudFormation/config/prod.json"

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


@pytest.mark.parametrize("name", ["pipeline", "endpoint", "batch-inference", "api"])
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


def committed_prod_config() -> dict | None:
    """prod.json as last committed before the change under test: HEAD's when the working copy
    differs from it, else HEAD~1's. None outside a git checkout (a CodeBuild source zip)."""
    current = (REPO / PROD_CONFIG).read_text()
    for revision in ("HEAD", "HEAD~1"):
        shown = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:{PROD_CONFIG}"],
                               capture_output=True, text=True, check=False)
        if shown.returncode != 0:
            return None
        if shown.stdout != current or revision == "HEAD~1":
            return json.loads(shown.stdout)
    return None


def test_a_prod_instance_type_change_under_auto_scaling_warns():
    """Not an error (the change is legitimate), a warning that names the runbook's steps."""
    previous = committed_prod_config()
    if previous is None:
        pytest.skip("not a git checkout: no earlier prod.json to compare with")
    current = json.loads((REPO / PROD_CONFIG).read_text())
    for message in instance_type_change(previous, current):
        warnings.warn(InstanceTypeChange(f"{PROD_CONFIG}: {message}"), stacklevel=1)


def test_the_instance_type_rule_sees_a_change_only_under_auto_scaling():
    deployed = json.loads((REPO / PROD_CONFIG).read_text())
    assert deployed["Parameters"]["EnableAutoScaling"] == "true"
    changed = copy.deepcopy(deployed)
    changed["Parameters"]["InstanceType"] = "ml.c6i.xlarge"
    (message,) = instance_type_change(deployed, changed)
    assert f"from {deployed['Parameters']['InstanceType']} to ml.c6i.xlarge" in message
    assert "'Changing the prod instance type'" in message
    assert "## Changing the prod instance type" in (REPO / "Docs" / "runbook.md").read_text()
    with pytest.warns(InstanceTypeChange, match="while auto scaling is registered"):
        for found in instance_type_change(deployed, changed):
            warnings.warn(InstanceTypeChange(found), stacklevel=1)
    assert list(instance_type_change(deployed, deployed)) == []
    unscaled = copy.deepcopy(deployed)
    unscaled["Parameters"]["EnableAutoScaling"] = "false"
    assert list(instance_type_change(unscaled, changed)) == []  # step 2 of the runbook
