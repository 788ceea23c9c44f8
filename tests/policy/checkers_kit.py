"""Run the template checkers as CI runs them and read their findings as data.

cfn-lint runs from the project's venv with the repository's .cfnlintrc.yaml; taskcat and
checkov run through ci/checkers.sh, in their own venvs (built on first use, then cached).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECKERS = REPO / "ci" / "checkers.sh"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def run_checker(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`ci/checkers.sh ARGS` in `cwd`; its venv is built first if it is missing or stale."""
    return subprocess.run([str(CHECKERS), *args], cwd=cwd, capture_output=True, text=True,
                          check=False)


def checkov_report(cwd: Path, *args: str) -> list[dict]:
    """checkov's JSON reports (one per framework) for the project in `cwd`."""
    result = run_checker(["checkov", "--output", "json", *args], cwd)
    # 1 is also checkov's answer when checks fail: then its report is on stdout.
    assert result.returncode in (0, 1) and result.stdout.startswith(("{", "[")), result.stderr
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def checkov_failures(cwd: Path, *args: str) -> dict[Path, set[str]]:
    """Failed checkov checks by template (absolute path), for the project in `cwd`."""
    failures: dict[Path, set[str]] = defaultdict(set)
    for report in checkov_report(cwd, *args):
        for check in report["results"]["failed_checks"]:
            failures[(cwd / check["file_path"].lstrip("/")).resolve()].add(check["check_id"])
    return failures


def cfn_lint_rules(paths: list[Path]) -> dict[Path, set[str]]:
    """The cfn-lint rules each template breaks, with the repository's configuration."""
    result = subprocess.run([str(CFN_LINT), "--format", "json", "--", *map(str, paths)],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert result.stdout, result.stderr
    found: dict[Path, set[str]] = defaultdict(set)
    for match in json.loads(result.stdout):
        found[Path(match["Filename"]).resolve()].add(match["Rule"]["Id"])
    return found
