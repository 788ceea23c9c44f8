"""Docs/cost.py: the time and cost tables follow the configuration, and the document shows
exactly what the script computes."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("cost", REPO / "Docs" / "cost.py")
cost = sys.modules["cost"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cost)

INPUTS = ("CodePipeline/pipeline.yaml", "CodePipeline/local-parameters.json",
          "workflows/templates/titanic_train.yaml", "CloudFormation/endpoint.yaml",
          "CloudFormation/config/qa.json", "CloudFormation/config/prod.json")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the files the script reads, to change without touching the repository."""
    for name in INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def set_stage(root: Path, stage: str, **parameters: str) -> None:
    path = root / "CloudFormation" / "config" / f"{stage}.json"
    config = json.loads(path.read_text())
    config["Parameters"].update(parameters)
    path.write_text(json.dumps(config))


def test_the_document_shows_what_the_script_computes():
    document = (REPO / "Docs" / "deploying-to-aws.md").read_text()
    block = document.split(cost.BEGIN, 1)[1].split(cost.END, 1)[0]
    assert block == "\n" + cost.render()
    assert cost.main(["--check"]) == 0


def test_the_tables_follow_the_configuration(tree: Path):
    assert cost.render(tree) == cost.render()
    prod = cost.SAGEMAKER_HOURLY["hosting"]["ml.m5.xlarge"]
    assert f"ml.m5.xlarge x2 to x4 (auto scaling), 730 h a month | ${prod:.2f} per hour | " \
        f"{cost.money(2 * prod * 730)} to {cost.money(4 * prod * 730)} a month |" \
        in cost.render(tree)

    set_stage(tree, "prod", InstanceType="ml.m5.large", InstanceCount="3",
              AutoScalingMinCapacity="3", AutoScalingMaxCapacity="6",
              CanaryWaitIntervalSeconds="1200")
    changed = cost.render(tree)

    large = cost.SAGEMAKER_HOURLY["hosting"]["ml.m5.large"]
    assert f"ml.m5.large x3 to x6 (auto scaling), 730 h a month | $0.115 per hour | " \
        f"{cost.money(3 * large * 730)} to {cost.money(6 * large * 730)} a month |" in changed
    # A 20-minute canary: DeployProd takes 10 minutes longer, and so does the whole release.
    assert "| ClearFailedCreate 1 → DeployProd 30 → " in changed
    before = cost.Release.read(REPO)
    after = cost.Release.read(tree)
    assert max(e for _, e in cost.timeline(after.actions).values()) \
        == max(e for _, e in cost.timeline(before.actions).values()) + 10
    assert f"a new ml.m5.large x3 fleet beside the old one for ~30 min | $0.115 per hour | " \
        f"{cost.money(3 * large * 30 / 60)} |" in changed


def test_without_auto_scaling_prod_is_its_instance_count(tree: Path):
    set_stage(tree, "prod", EnableAutoScaling="false", InstanceCount="1")
    prod = cost.SAGEMAKER_HOURLY["hosting"]["ml.m5.xlarge"]
    assert f"| Prod endpoint | ml.m5.xlarge x1, 730 h a month | ${prod:.2f} per hour | " \
        f"{cost.money(prod * 730)} a month |" in cost.render(tree)


def test_an_unpriced_instance_type_says_where_to_add_its_price(tree: Path):
    set_stage(tree, "qa", InstanceType="ml.c7i.large")
    with pytest.raises(cost.CostError, match=r"no hosting price for ml\.c7i\.large: add its "
                       r"us-east-1 on-demand price to SAGEMAKER_HOURLY"):
        cost.render(tree)


def test_an_action_without_an_estimate_is_named(tree: Path):
    pipeline = tree / "CodePipeline" / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text().replace("- Name: SmokeTest", "- Name: LoadTest"))
    with pytest.raises(cost.CostError, match=r"no duration estimate for action Prod\.LoadTest"):
        cost.render(tree)


def test_unit_prices_keep_their_published_digits():
    assert [cost.unit_price(p) for p in (0.23, 0.115, 0.005, 2.0)] == \
        ["$0.23", "$0.115", "$0.005", "$2.00"]


def test_the_jobs_instance_type_is_the_training_workflows(tree: Path):
    """The template's default, unless the Build stage deploys the workflow with another."""
    template = tree / "workflows" / "templates" / "titanic_train.yaml"
    template.write_text(template.read_text().replace("Default: ml.m5.large",
                                                     "Default: ml.c7i.large"))
    with pytest.raises(cost.CostError, match=r"no processing price for ml\.c7i\.large"):
        cost.render(tree)
    pipeline = tree / "CodePipeline" / "pipeline.yaml"
    text = pipeline.read_text()
    assert '"TitanicImageUri": "#{Image.IMAGE_URI}",' in text
    pipeline.write_text(text.replace('"TitanicImageUri": "#{Image.IMAGE_URI}",',
                                     '"TitanicImageUri": "#{Image.IMAGE_URI}", '
                                     '"InstanceType": "ml.m5.large",'))
    assert "| SageMaker training job | ml.m5.large x1, " in cost.render(tree)
