"""cfn-lint finds nothing in the templates, and every buildspec the pipeline names is valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .templates_kit import PIPELINE, REPO, TEMPLATES, pipeline_actions, resources, template

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
LINT_CONFIG = REPO / ".cfnlintrc.yaml"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.name)
def test_cfn_lint_reports_nothing(path: Path):
    # Run from the repository root so that .cfnlintrc.yaml (informational checks, regions) applies.
    result = subprocess.run([str(CFN_LINT), "--format", "parseable", "--", str(path)],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_lint_config_covers_every_template():
    config = yaml.safe_load(LINT_CONFIG.read_text())
    assert {REPO / name for name in config["templates"]} == set(TEMPLATES)


def _ignored_checks() -> list[tuple[Path, str]]:
    config = yaml.safe_load(LINT_CONFIG.read_text())
    found = [(LINT_CONFIG, check) for check in config.get("ignore_checks", [])]
    for path in TEMPLATES:
        body = template(path)
        holders = [body, *body["Resources"].values()]
        for holder in holders:
            settings = holder.get("Metadata", {}).get("cfn-lint", {}).get("config", {})
            found += [(path, check) for check in settings.get("ignore_checks", [])]
    return found


def test_every_ignored_check_says_why():
    unexplained = []
    for path, check in _ignored_checks():
        lines = [line for line in path.read_text().splitlines() if check in line]
        if not any("#" in line and len(line.split("#", 1)[1].split()) >= 3 for line in lines):
            unexplained.append(f"{path.name}: {check}")
    assert unexplained == [], "ignored cfn-lint checks need a reason in a comment on their line"


def test_buildspecs_are_files_in_the_repository():
    projects = resources(PIPELINE, "AWS::CodeBuild::Project")
    assert projects
    for name, properties in projects.items():
        source = properties["Source"]
        assert source["Type"] == "CODEPIPELINE", name
        assert "\n" not in source["BuildSpec"], f"{name}: inline buildspec"
        path = REPO / source["BuildSpec"]
        assert path.is_file(), f"{name}: {source['BuildSpec']} is missing"


@pytest.mark.parametrize(
    "relative_path",
    sorted({action.buildspec_path() for action in pipeline_actions()
            if action.provider == "CodeBuild"}))
def test_buildspec_is_version_0_2_with_commands(relative_path: str):
    spec = yaml.safe_load((REPO / relative_path).read_text())
    assert str(spec["version"]) == "0.2"
    commands = [command for phase in spec["phases"].values()
                for command in phase.get("commands", [])]
    assert commands and all(isinstance(command, str) and command.strip() for command in commands)
    for name, report in spec.get("reports", {}).items():
        assert report["file-format"] == "JUNITXML", name
