"""taskcat lint and checkov pass on the real templates, offline, in their own venvs
(ci/checkers.sh), and what they are configured with matches the pipeline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from templates.templates_kit import (
    ENDPOINT,
    PIPELINE,
    TEMPLATES,
    TRAINING,
    action,
    parameter_accepts,
    substitute,
    template,
)

from .checkers_kit import REPO, checkov_report, run_checker

TASKCAT = yaml.safe_load((REPO / ".taskcat.yml").read_text())


def test_taskcat_lint_passes():
    result = run_checker(["taskcat"], REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in TEMPLATES:
        assert f"Linting passed for file: {path}" in result.stdout + result.stderr


def test_taskcat_lint_fails_on_a_broken_template(tmp_path: Path):
    for name in (".taskcat.yml", ".cfnlintrc.yaml", *(p.relative_to(REPO) for p in TEMPLATES)):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    broken = tmp_path / ENDPOINT.relative_to(REPO)
    text = broken.read_text()
    assert "InstanceType: !Ref InstanceType" in text
    broken.write_text(text.replace("InstanceType: !Ref InstanceType", "InstanceType: !Ref Typo"))

    result = run_checker(["taskcat"], tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert f"Linting detected issues in: {broken}" in output
    assert "'Typo' is not one of" in output


def test_taskcat_covers_every_template_in_the_linted_regions():
    tests = TASKCAT["tests"]
    assert {REPO / test["template"] for test in tests.values()} == set(TEMPLATES)
    lint_config = yaml.safe_load((REPO / ".cfnlintrc.yaml").read_text())
    assert TASKCAT["project"]["regions"] == lint_config["regions"]


def test_taskcat_pipeline_parameters_are_valid():
    declared = template(PIPELINE)["Parameters"]
    given = TASKCAT["tests"]["pipeline"]["parameters"]
    assert {name for name, d in declared.items() if "Default" not in d} <= set(given)
    for name, value in given.items():
        assert parameter_accepts(declared[name], value), f"{name}={value}"


@pytest.mark.parametrize("stage, deploy_action", [("qa", "DeployQA"), ("prod", "DeployProd")])
def test_taskcat_deploys_each_stage_as_the_pipeline_does(stage: str, deploy_action: str):
    """The stage's configuration plus the deploy action's overrides, nothing else."""
    given = TASKCAT["tests"][f"endpoint-{stage}"]["parameters"]
    configuration = json.loads((REPO / f"CloudFormation/config/{stage}.json").read_text())
    deploy = action(deploy_action)
    overrides = json.loads(substitute(deploy.configuration["ParameterOverrides"], {}))
    assert set(given) == set(configuration["Parameters"]) | set(overrides)
    assert {name: given[name] for name in configuration["Parameters"]} == \
        configuration["Parameters"]
    declared = template(ENDPOINT)["Parameters"]
    for name, value in given.items():
        assert parameter_accepts(declared[name], value), f"{name}={value}"


def test_taskcat_deploys_the_training_stack_as_the_pipeline_does():
    given = TASKCAT["tests"]["training"]["parameters"]
    overrides = json.loads(substitute(action("DeployTrainingWorkflow").configuration[
        "ParameterOverrides"], {}))
    assert set(given) == set(overrides)
    declared = template(TRAINING)["Parameters"]
    for name, value in given.items():
        assert parameter_accepts(declared[name], value), f"{name}={value}"


def test_checkov_passes():
    (report,) = checkov_report(REPO)
    summary = report["summary"]
    assert report["results"]["failed_checks"] == []
    assert (summary["failed"], summary["parsing_errors"]) == (0, 0)
    # Every template was scanned: every resource of each.
    assert summary["resource_count"] == sum(len(template(path)["Resources"])
                                            for path in TEMPLATES)


def _checkov_skips() -> list[tuple[str, dict]]:
    return [(f"{path.name}/{name}", skip)
            for path in TEMPLATES
            for name, resource in template(path)["Resources"].items()
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])]


def test_every_checkov_skip_says_why():
    skips = _checkov_skips()
    assert skips  # the reviewed ones: see the templates
    for where, skip in skips:
        assert skip["id"].startswith("CKV"), where
        assert len(skip.get("comment", "").split()) >= 10, f"{where}: {skip['id']} needs a reason"


def test_checkov_passes_on_the_packaged_api_template(packaged_api: Path):
    """The SAM template `chalice package` writes (with the pipeline's merge template) has no
    failed check, and each skip carries its reason next to the resource."""
    (report,) = checkov_report(packaged_api.parent, "--file", packaged_api.name,
                               "--framework", "cloudformation", "--skip-download")
    assert report["results"]["failed_checks"] == []
    skipped = report["results"]["skipped_checks"]
    assert skipped and all(len(check["check_result"]["suppress_comment"].split()) >= 10
                           for check in skipped)
