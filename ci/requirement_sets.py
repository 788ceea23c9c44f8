"""The pinned requirement sets, one per purpose, cut from requirements.lock.

requirements.lock pins every package of the project's venv (the local AWS, the tests, the
tools): what `make` installs for local use. A CodeBuild action in AWS installs only what it runs,
each set the closure of a few root packages under the lock's pins, so that no set can drift
from the lock (tests/templates/test_requirement_sets.py checks it):

- requirements/pipeline.txt: the scripts of the Train and ClearFailedCreate actions and the QA
  and smoke tests (boto3, pytest; bokeh-sampledata for its data file only, see DATA_ONLY);
- requirements/package.txt: PackageApi's `chalice package` (the AWS CLI comes with the image);
- requirements/unit.txt: the UnitTests action (ruff, cfn-lint, pytest, and what the tests marked
  aws_unit import: the project's runtime packages, ds_stepfunctions' png extra, the model's);
- model/requirements.txt: the model image (its Dockerfile installs it; written by hand, checked
  here against the lock).

`python ci/requirement_sets.py --write` rewrites the sets from the venv's installed packages
(`make lock` runs it); without `--write` it says what differs and exits 1.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
MODEL = REPO / "model" / "requirements.txt"
# Installed with --no-deps for a data file it ships (CodePipeline/scripts/default_data.py reads
# the Titanic CSV from it); its own requirements (pandas, shapely...) are not imported.
DATA_ONLY = {"bokeh-sampledata"}
# Part of every Python installation (CodeBuild's too), and left out of the lock by pip freeze.
PROVIDED = {"pip", "setuptools", "wheel"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file, by canonical name."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            found[canonical(name)] = version.strip()
    return found


def roots() -> dict[str, list[str]]:
    """Each set's file and its root packages (what each is for: the module's docstring)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # The runtime packages (the tests import the local AWS's modules), and ds_stepfunctions'
    # png extra (its picture tests).
    runtime = [Requirement(r).name for r in [*project["dependencies"],
                                            *project["optional-dependencies"]["png"]]]
    return {"requirements/pipeline.txt": ["boto3", "pytest", *DATA_ONLY],
            "requirements/package.txt": ["chalice"],
            "requirements/unit.txt": ["ruff", "cfn-lint", "pytest", *runtime, *pins(MODEL)]}


def closure(names: list[str]) -> set[str]:
    """The packages `names` need, transitively, as installed in this venv (extras left out;
    markers evaluated for this Python)."""
    seen: set[str] = set()
    todo = [canonical(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in DATA_ONLY or name in PROVIDED:
            continue
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonical(requirement.name))
    return seen


def render(path: str, names: list[str], locked: dict[str, str]) -> str:
    """The set of `path`: the closure of its root packages `names` at the lock's pins."""
    names = sorted(closure(names) - PROVIDED)
    missing = [n for n in names if n not in locked]
    if missing:
        raise SystemExit(f"{path}: {missing} are not in requirements.lock (run `make lock`)")
    lines = ["# Pinned as in requirements.lock; regenerate with `python ci/requirement_sets.py "
             "--write`", "# (ci/requirement_sets.py says which set goes where). Installed with "
             "--no-deps: the set is complete."]
    lines += [f"{n}=={locked[n]}" for n in names]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the sets")
    args = parser.parse_args()
    locked = pins(LOCK)
    stale = [f"model/requirements.txt: {n}=={v}, requirements.lock has {locked.get(n)}"
             for n, v in pins(MODEL).items() if locked.get(n) != v]
    for path, names in roots().items():
        text = render(path, names, locked)
        target = REPO / path
        if args.write:
            target.write_text(text)
        elif not target.is_file() or target.read_text() != text:
            stale.append(f"{path}: differs from requirements.lock's closure")
    for line in stale:
        print(line, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
