"""The checks fail when a defect is planted: copies of the real templates, one defect each.

Every copy (and a clean copy of each template, the control) is written out, read back the way
the real templates are read, then checked by the policy rules, cfn-lint and checkov (one run
of each over all copies). A planted copy must break its rule and no other, and cfn-lint and
checkov must report what they know of that kind of defect on top of the clean copy's findings.
"""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .checkers_kit import REPO, cfn_lint_rules, checkov_failures
from .plants_kit import PLANTS, Plant
from .rules_kit import load, violations


@dataclass(frozen=True)
class Findings:
    copies: dict[tuple[str, str], Path]  # (case, template) -> the copy
    cfn_lint: dict[Path, set[str]]
    checkov: dict[Path, set[str]]


def _write_copies(root: Path, templates: dict[str, Path]) -> dict[tuple[str, str], Path]:
    """(case, template) -> its copy: "clean" copies of every template, and one per plant."""
    copies = {}
    for case, template, edit in [("clean", name, None) for name in templates] + [
            (plant.name, plant.template, plant.edit) for plant in PLANTS]:
        body = copy.deepcopy(load(templates[template]))
        if edit is not None:
            edit(body)
        path = copies[case, template] = root / case / f"{template}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(body, indent=1))
    return copies


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory, templates: dict[str, Path]) -> Findings:
    root = tmp_path_factory.mktemp("planted")
    copies = _write_copies(root, templates)
    # The tools run on the clean copies and on the plants they are expected to see.
    linted = [path for (case, _), path in copies.items()
              if case == "clean" or any(p.cfn_lint for p in PLANTS if p.name == case)]
    scanned = [path for (case, template), path in copies.items()
               if (case == "clean" and template != "api")
               or any(p.checkov for p in PLANTS if p.name == case)]
    # checkov with the repository's settings, on the copies instead of the repository's files.
    settings = yaml.safe_load((REPO / ".checkov.yaml").read_text())
    del settings["file"]
    (root / ".checkov.yaml").write_text(yaml.safe_dump(settings))
    with ThreadPoolExecutor(max_workers=2) as pool:  # two processes, at once
        lint = pool.submit(cfn_lint_rules, linted)
        scan = pool.submit(checkov_failures, root,
                           *[arg for path in scanned for arg in ("--file", str(path))])
        return Findings(copies, lint.result(), scan.result())


@pytest.mark.parametrize("template", ["pipeline", "endpoint", "batch-inference", "api"])
def test_clean_copies_are_clean(findings: Findings, template: str):
    clean = findings.copies["clean", template]
    assert violations(load(clean)) == []
    assert findings.cfn_lint.get(clean, set()) == set()
    if template != "api":  # checkov's view of the packaged API is tests/chalice_api's business
        assert findings.checkov.get(clean, set()) == set()


@pytest.mark.parametrize("plant", PLANTS, ids=lambda plant: plant.name)
def test_planted_defect_is_reported(findings: Findings, plant: Plant):
    planted = findings.copies[plant.name, plant.template]
    clean = findings.copies["clean", plant.template]

    found = violations(load(planted))
    assert found, f"no policy rule saw {plant.name}"
    assert {message.split(":", 1)[0] for message in found} == {plant.rule}, found
    assert any(plant.says in message for message in found), found

    new_lint = findings.cfn_lint.get(planted, set()) - findings.cfn_lint.get(clean, set())
    assert plant.cfn_lint <= new_lint
    new_checkov = findings.checkov.get(planted, set()) - findings.checkov.get(clean, set())
    assert plant.checkov <= new_checkov
