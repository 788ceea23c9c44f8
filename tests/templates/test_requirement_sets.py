"""Each CodeBuild action installs a pinned requirement set of its purpose (requirements/*.txt,
model/requirements.txt for the image), never the whole requirements.lock; every set pins what
the lock pins, and is the complete closure of its root packages (installed with --no-deps), so
the sets cannot drift from the lock or from each other (ci/requirement_sets.py makes them)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from .templates_kit import REPO

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

SETS = REPO / "ci" / "requirement_sets.py"
BUILDSPECS = [REPO / "buildspec.yml", *sorted((REPO / "CodePipeline" / "buildspecs").glob("*.yml"))]
INSTALL = re.compile(r"pip install .*-r (\S+)")


def pinned(path) -> dict[str, str]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return {re.sub(r"[-_.]+", "-", name).lower(): version
            for name, _, version in (line.partition("==") for line in lines if line)}


def drift(path, lock: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """The packages `path` pins otherwise than the lock: (the set's version, the lock's)."""
    return {name: (version, lock.get(name)) for name, version in pinned(path).items()
            if lock.get(name) != version}


def installs(buildspec) -> list[str]:
    commands = [c for phase in yaml.safe_load(buildspec.read_text())["phases"].values()
                for c in phase.get("commands", [])]
    return [m[1] for c in commands for m in [INSTALL.search(c)] if m]


def test_every_set_pins_the_locks_versions():
    lock = pinned(REPO / "requirements.lock")
    for path in [*(REPO / "requirements").glob("*.txt"), REPO / "model" / "requirements.txt"]:
        assert drift(path, lock) == {}, path.relative_to(REPO)


def test_the_sets_are_what_their_roots_need_at_the_locks_pins():
    done = subprocess.run([sys.executable, str(SETS)], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("buildspec", BUILDSPECS, ids=lambda path: path.name)
def test_each_build_installs_a_set_not_the_lock(buildspec):
    for requirements in installs(buildspec):
        assert requirements.startswith("requirements/"), f"{buildspec.name}: {requirements}"
        assert (REPO / requirements).is_file()
        assert "--no-deps" in buildspec.read_text()


def test_the_sets_go_where_the_docs_say():
    expected = {"buildspec.yml": ["requirements/pipeline.txt"],
                "clear-failed-create.yml": ["requirements/pipeline.txt"],
                "qa.yml": ["requirements/pipeline.txt"], "smoke.yml": ["requirements/pipeline.txt"],
                "api.yml": ["requirements/package.txt"], "test.yml": ["requirements/unit.txt"],
                "image.yml": []}  # docker build installs model/requirements.txt in the image
    assert {path.name: installs(path) for path in BUILDSPECS} == expected
    assert "requirements.txt" in (REPO / "model" / "Dockerfile").read_text()


def test_a_set_that_drifts_from_the_lock_is_caught(tmp_path):
    drifted = tmp_path / "pipeline.txt"
    drifted.write_text((REPO / "requirements" / "pipeline.txt").read_text().replace(
        "boto3==", "boto3==0.0.1  # was "))
    lock = pinned(REPO / "requirements.lock")
    assert drift(drifted, lock) == {"boto3": ("0.0.1", lock["boto3"])}
