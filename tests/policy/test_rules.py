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
    TEMPLATE_BODY_LIMIT,
    TEMPLATE_BODY_WARNING,
    InstanceTypeChange,
    TemplateNearSizeLimit,
    as_list,
    deployable_templates,
    instance_type_change,
    load,
    statements,
    template_size,
    template_size_warnings,
    violations,
)

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

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


def test_the_size_rule_finds_every_template_the_project_deploys():
    found = {path.relative_to(REPO).as_posix() for path in deployable_templates(REPO)}
    assert {"CodePipeline/pipeline.yaml", "CloudFormation/endpoint.yaml",
            "workflows/templates/titanic_train.yaml"} <= found
    assert {path.as_posix() for path in (REPO / "workflows" / "templates").glob("*.yaml")} \
        <= {(REPO / name).as_posix() for name in found}
    assert not any("buildspecs" in name or name.endswith("qa.json") for name in found)


@pytest.mark.parametrize("path", deployable_templates(REPO), ids=lambda path: path.name)
def test_every_template_fits_cloudformations_template_body(path: Path):
    assert list(template_size(path)) == []
    for message in template_size_warnings(path):
        warnings.warn(TemplateNearSizeLimit(message), stacklevel=1)


def _padded(tmp_path: Path, size: int) -> Path:
    """A template (endpoint.yaml, smaller than every threshold) grown to `size` bytes the way
    templates grow: comments."""
    text = (REPO / "CloudFormation" / "endpoint.yaml").read_text()
    line = "# " + "x" * 97 + "\n"
    text += line * ((size - len(text.encode())) // len(line))
    text += "#" * (size - len(text.encode()) - 1) + "\n"
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    assert path.stat().st_size == size
    return path


def test_a_template_over_the_limit_is_refused(tmp_path: Path):
    planted = _padded(tmp_path, TEMPLATE_BODY_LIMIT + 1)
    (message,) = template_size(planted)
    assert message.startswith("template-size: pipeline.yaml: 51,201 bytes, over the 51,200")
    assert list(template_size(_padded(tmp_path, TEMPLATE_BODY_LIMIT))) == []


def test_a_template_near_the_limit_warns_only(tmp_path: Path):
    near = _padded(tmp_path, TEMPLATE_BODY_WARNING + 1)
    assert list(template_size(near)) == []
    (message,) = template_size_warnings(near)
    assert "46,001 bytes, 5,199 under CloudFormation's TemplateBody limit" in message
    assert list(template_size_warnings(_padded(tmp_path, TEMPLATE_BODY_WARNING))) == []
