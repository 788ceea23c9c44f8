"""Write what the workflow modules generate: each one's CloudFormation stack
(workflows/templates/<name>.yaml) and the picture of its graph (Docs/workflows/<name>.svg).

    python -m workflows.export           # rewrite them
    python -m workflows.export --check   # exit 1, naming them, if any is out of date

The tests run the check, so a change to a workflow comes with its regenerated files.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from ds_stepfunctions.workflow import Workflow
from workflows import abalone, aws, experiments, titanic_inference, titanic_train
from workflows.retail import workflow as retail

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "workflows" / "templates"
PICTURES = REPO / "Docs" / "workflows"
MODULES: dict[str, ModuleType] = {"titanic_train": titanic_train,
                                  "titanic_inference": titanic_inference,
                                  "abalone": abalone, "retail": retail,
                                  "experiments": experiments}
LOCAL = aws.Place("sagepipe-workflows", "workflows", aws.local_role("SageMakerRole"))
XGBOOST, TITANIC = aws.local_image("sagepipe-xgboost"), aws.local_image("sagepipe-model")
# Each workflow as `python -m workflows.<name>` builds it with the local defaults.
LOCAL_BUILDS: dict[str, Callable[[], Workflow]] = {
    "titanic_train": lambda: titanic_train.build(LOCAL, TITANIC),
    "titanic_inference": lambda: titanic_inference.build(LOCAL),
    "abalone": lambda: abalone.build(LOCAL, XGBOOST),
    "retail": lambda: retail.build(LOCAL, XGBOOST, "sagepipe-retail-prepare-data",
                                   "sagepipe-retail-check-metric"),
    "experiments": lambda: experiments.build(LOCAL, XGBOOST, "sagepipe-experiments-pick-best"),
}


def generated() -> dict[Path, str]:
    """Every generated file and its content."""
    # ds_stepfunctions warns that an export may hold region-specific values; ours map them to
    # parameters (stack.py), so the warning says nothing here.
    logging.getLogger("ds_stepfunctions").setLevel(logging.ERROR)
    files = {TEMPLATES / f"{name}.yaml": module.get_cloudformation_template()
             for name, module in MODULES.items()}
    files.update({PICTURES / f"{name}.svg": build().render_graph(portrait=True).to_svg()
                  for name, build in LOCAL_BUILDS.items()})
    return files


def stale() -> list[Path]:
    return [path for path, text in generated().items()
            if not path.is_file() or path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only say which files are out of date")
    args = p.parse_args(argv)
    if args.check:
        outdated = stale()
        for path in outdated:
            print(f"out of date: {path.relative_to(REPO)} (run python -m workflows.export)")
        return 1 if outdated else 0
    for path, text in generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
