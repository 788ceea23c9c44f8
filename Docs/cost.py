"""Approximate time and AWS cost of a sagepipe release, computed from the project's configuration.

Reads the pipeline's stages, actions and CodeBuild compute types (CodePipeline/pipeline.yaml),
the endpoint stages (CloudFormation/config/qa.json and prod.json) and the training jobs' instance
type (the InstanceType the Build stage deploys the training workflow with: its ParameterOverrides,
else the default of workflows/templates/titanic_train.yaml), and prices them with the on-demand
us-east-1 prices below.

    python Docs/cost.py            print the tables (Markdown)
    python Docs/cost.py --write    put them into README.md and Docs/deploying-to-aws.md, between
                                   the markers
    python Docs/cost.py --check    exit 1 when a document's tables are out of date
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagepipe.cloudformation.template import load

REPO = Path(__file__).resolve().parents[1]
TRAINING_TEMPLATE = "workflows/templates/titanic_train.yaml"
DOCS = (REPO / "README.md", REPO / "Docs" / "deploying-to-aws.md")
BEGIN, END = "<!-- cost.py: begin -->", "<!-- cost.py: end -->"

# On-demand prices, us-east-1, USD, read on PRICES_TAKEN. AWS changes them: check the pages in
# SOURCES (or the Price List API) before relying on the totals. Where they were read (AWS's own
# pages were not reachable from where this was written, so through copies and quotes of them):
# - CodePipeline: the text of aws.amazon.com/codepipeline/pricing ("$0.002 per action execution
#   minute", manual approvals not charged).
# - SageMaker: ml.m5.large $0.115 and ml.m5.xlarge $0.23 an hour, as listed for us-east-1 in
#   public pricing notes on GitHub (e.g. JHUAPL-DTC-TA2/wiki docs/sagemaker_instances.md) and an
#   AWS pricing catalog of SageMaker instances; one blog post (zircon.tech, Oct 2025) gives
#   $0.269 for ml.m5.xlarge, which matches no other source. Training and processing on
#   ml.m5.large: $0.115 as for hosting, as AWS's page listed them; no copy read here confirms it.
# - CodeBuild: general1.small Linux $0.005 a minute (c3x.dev, kindatechnical.com and
#   hivebook.wiki, the latter dated May 2026).
PRICES_TAKEN = "2026-11-22"
REGION = "us-east-1"
SAGEMAKER_HOURLY = {  # per instance-hour, billed per second
    "hosting": {"ml.m5.large": 0.115, "ml.m5.xlarge": 0.23},
    "training": {"ml.m5.large": 0.115},
    "processing": {"ml.m5.large": 0.115},
}
CODEBUILD_PER_MINUTE = {"BUILD_GENERAL1_SMALL": 0.005}  # Linux, per build minute
CODEPIPELINE_PER_ACTION_MINUTE = 0.002  # V2 pipelines; manual approvals are not charged
SOURCES = {
    "SageMaker": "https://aws.amazon.com/sagemaker/pricing/",
    "CodeBuild": "https://aws.amazon.com/codebuild/pricing/",
    "CodePipeline": "https://aws.amazon.com/codepipeline/pricing/",
}
HOURS_PER_MONTH = 730

# Estimated minutes per action in AWS for this small model (a few MB of data): estimates, not
# measurements. CodeBuild actions include about a minute of build container start.
ACTION_MINUTES = {
    "Source.Source": 1,
    "Build.UnitTests": 5,
    "Build.BuildImage": 6,
    "Build.DeployTrainingWorkflow": 2,  # the state machine and its role, mostly updates
    "Build.Train": 14,  # two SageMaker jobs, each waiting a few minutes for its instance
    "QA.QATests": 3,
    "Prod.ClearFailedCreate": 1,  # one DescribeStacks per prod stack, most runs
    "Prod.PackageApi": 3,
    "Prod.DeployApi": 3,
    "Prod.DeployBatchInference": 2,  # buckets, two functions and their roles, mostly updates
    "Prod.SmokeTest": 2,
    "Prod.TeardownQA": 5,
}
ENDPOINT_DEPLOY_MINUTES = 10  # a stage's endpoint stack: new fleet up, before any canary wait
JOB_BILLED_MINUTES = 3  # per SageMaker job; the instance start-up is not billed
APPROVAL_TIMEOUT_DAYS = 7  # CodePipeline fails a manual approval nobody answers in 7 days


class CostError(ValueError):
    """The configuration names something this script has no price or estimate for."""


@dataclass(frozen=True)
class Action:
    stage: str
    name: str
    run_order: int
    provider: str
    configuration: dict[str, Any]
    minutes: int  # 0 for the manual approval: it waits for people, and it is not charged

    @property
    def key(self) -> str:
        return f"{self.stage}.{self.name}"


@dataclass(frozen=True)
class Stage:
    """An endpoint stage's configuration (CloudFormation/config/<name>.json)."""

    instance_type: str
    instance_count: int
    min_count: int
    max_count: int
    canary_wait_minutes: int

    @classmethod
    def read(cls, root: Path, name: str) -> Stage:
        """The stage's parameters over endpoint.yaml's defaults."""
        template = load(root / "CloudFormation" / "endpoint.yaml")["Parameters"]
        config = json.loads((root / "CloudFormation" / "config" / f"{name}.json").read_text())
        p = {**{k: str(v["Default"]) for k, v in template.items() if "Default" in v},
             **config["Parameters"]}
        count, scaling = int(p["InstanceCount"]), p["EnableAutoScaling"] == "true"
        return cls(p["InstanceType"], count,
                   int(p["AutoScalingMinCapacity"]) if scaling else count,
                   int(p["AutoScalingMaxCapacity"]) if scaling else count,
                   math.ceil(int(p["CanaryWaitIntervalSeconds"]) / 60)
                   if p["DeploymentStrategy"] == "Canary" else 0)


def sagemaker_hourly(use: str, instance_type: str) -> float:
    try:
        return SAGEMAKER_HOURLY[use][instance_type]
    except KeyError:
        raise CostError(f"no {use} price for {instance_type}: add its {REGION} on-demand price "
                        f"to SAGEMAKER_HOURLY in Docs/cost.py ({SOURCES['SageMaker']})") from None


def config_stage(configuration: dict[str, Any]) -> str | None:
    """`qa` for an action that deploys with CloudFormation/config/qa.json, and so on."""
    match = re.search(r"config/(\w+)\.json$", configuration.get("TemplateConfiguration", ""))
    return match.group(1) if match else None


def read_actions(pipeline: dict[str, Any], stages: dict[str, Stage]) -> list[Action]:
    """The actions of the template's pipeline (its `AWS::CodePipeline::Pipeline` properties)."""
    found = []
    for stage in pipeline["Stages"]:
        for action in stage["Actions"]:
            key = f"{stage['Name']}.{action['Name']}"
            provider = action["ActionTypeId"]["Provider"]
            # Fn::Sub strings as written (`${ProjectName}-endpoint-qa`): their shape is enough.
            configuration = {k: v["Fn::Sub"] if isinstance(v, dict) and isinstance(
                v.get("Fn::Sub"), str) else v for k, v in (action.get("Configuration") or
                                                           {}).items()}
            endpoint_stage = config_stage(configuration)
            if provider == "Manual":
                minutes = 0
            elif endpoint_stage:
                minutes = ENDPOINT_DEPLOY_MINUTES + stages[endpoint_stage].canary_wait_minutes
            elif key in ACTION_MINUTES:
                minutes = ACTION_MINUTES[key]
            else:
                raise CostError(f"no duration estimate for action {key}: add it to "
                                "ACTION_MINUTES in Docs/cost.py")
            found.append(Action(stage["Name"], action["Name"], int(action.get("RunOrder", 1)),
                                provider, configuration, minutes))
    return found


def timeline(actions: list[Action]) -> dict[str, tuple[int, int]]:
    """Start and end minute of each action: stages one after another, run orders in sequence,
    actions of the same run order in parallel."""
    spans, clock = {}, 0
    for stage in dict.fromkeys(a.stage for a in actions):
        for order in sorted({a.run_order for a in actions if a.stage == stage}):
            group = [a for a in actions if a.stage == stage and a.run_order == order]
            for action in group:
                spans[action.key] = (clock, clock + action.minutes)
            clock += max(a.minutes for a in group)
    return spans


def training_instance_type(root: Path) -> str:
    """The jobs' instance type: what the pipeline deploys the training workflow with."""
    pipeline = load(root / "CodePipeline" / "pipeline.yaml")
    (deploy,) = [action for resource in pipeline["Resources"].values()
                 if resource["Type"] == "AWS::CodePipeline::Pipeline"
                 for stage in resource["Properties"]["Stages"] for action in stage["Actions"]
                 if str(action.get("Configuration", {}).get("TemplatePath", "")).endswith(
                     TRAINING_TEMPLATE)]
    overrides = deploy["Configuration"].get("ParameterOverrides", "")
    if isinstance(overrides, dict):  # !Sub of the pipeline stack's values
        overrides = overrides["Fn::Sub"]
    passed = re.search(r'"InstanceType":\s*"([\w.]+)"', overrides)
    if passed:
        return passed.group(1)
    return load(root / TRAINING_TEMPLATE)["Parameters"]["InstanceType"]["Default"]


def money(value: float) -> str:
    return f"${value:,.2f}"


def unit_price(value: float) -> str:
    """$0.23, $0.115, $0.005: the price as published, at least to the cent."""
    digits = f"{value:.4f}".rstrip("0")
    return "$" + digits + "0" * max(0, 2 - len(digits.partition(".")[2]))


@dataclass(frozen=True)
class Row:
    item: str
    configuration: str
    price: str
    cost: float

    def markdown(self) -> str:
        return f"| {self.item} | {self.configuration} | {self.price} | {money(self.cost)} |"


@dataclass(frozen=True)
class Release:
    """Everything the cost of one release depends on, read from the repository."""

    actions: list[Action]
    projects: dict[str, dict[str, Any]]  # CodeBuild project's logical id -> properties
    qa: Stage
    prod: Stage
    job_instance_type: str

    @classmethod
    def read(cls, root: Path) -> Release:
        stages = {name: Stage.read(root, name) for name in ("qa", "prod")}
        resources = load(root / "CodePipeline" / "pipeline.yaml")["Resources"]
        pipeline = next(r["Properties"] for r in resources.values()
                        if r["Type"] == "AWS::CodePipeline::Pipeline")
        projects = {logical: r["Properties"] for logical, r in resources.items()
                    if r["Type"] == "AWS::CodeBuild::Project"}
        return cls(read_actions(pipeline, stages), projects, stages["qa"], stages["prod"],
                   training_instance_type(root))

    def deploy_action(self, stage: str) -> Action:
        return next(a for a in self.actions if config_stage(a.configuration) == stage)

    def codebuild(self) -> Row:
        builds = [a for a in self.actions if a.provider == "CodeBuild"]
        cost, prices = 0.0, {}
        for action in builds:
            project = action.configuration["ProjectName"]["Ref"]  # the project's logical id
            compute = self.projects[project]["Environment"]["ComputeType"]
            if compute not in CODEBUILD_PER_MINUTE:
                raise CostError(f"no CodeBuild price for {compute} ({project}): add it to "
                                f"CODEBUILD_PER_MINUTE in Docs/cost.py ({SOURCES['CodeBuild']})")
            prices[compute] = CODEBUILD_PER_MINUTE[compute]
            cost += prices[compute] * action.minutes
        minutes = sum(a.minutes for a in builds)
        return Row("CodeBuild", f"{len(builds)} builds, {minutes} build minutes on "
                   f"{', '.join(sorted(prices))}",
                   " / ".join(unit_price(prices[c]) for c in sorted(prices)) + " per minute",
                   cost)

    def jobs(self) -> list[Row]:
        rows = []
        for use in ("processing", "training"):
            hourly = sagemaker_hourly(use, self.job_instance_type)
            rows.append(Row(f"SageMaker {use} job",
                            f"{self.job_instance_type} x1, ~{JOB_BILLED_MINUTES} min billed",
                            f"{unit_price(hourly)} per hour", hourly * JOB_BILLED_MINUTES / 60))
        return rows

    def qa_endpoint(self) -> Row:
        """The QA endpoint bills from its deployment to the TeardownQA action that ends the
        Prod stage (the approval wait included)."""
        spans = timeline(self.actions)
        deploy = self.deploy_action("qa")
        teardown = next(a for a in self.actions
                        if a.configuration.get("ActionMode") == "DELETE_ONLY"
                        and a.configuration.get("StackName", "").endswith("-endpoint-qa"))
        minutes = spans[teardown.key][1] - spans[deploy.key][0]
        hourly = sagemaker_hourly("hosting", self.qa.instance_type)
        return Row("QA endpoint", f"{self.qa.instance_type} x{self.qa.instance_count}, {minutes} "
                   f"min from {deploy.name} to {teardown.name}, plus the approval wait",
                   f"{unit_price(hourly)} per hour",
                   self.qa.instance_count * hourly * minutes / 60)

    def canary_overlap(self) -> Row:
        """An update brings up a whole new prod fleet next to the old one, which serves until
        the canary has baked and the traffic has shifted."""
        minutes = self.deploy_action("prod").minutes
        hourly = sagemaker_hourly("hosting", self.prod.instance_type)
        return Row("Prod deployment overlap (updates)",
                   f"a new {self.prod.instance_type} x{self.prod.instance_count} fleet beside "
                   f"the old one for ~{minutes} min", f"{unit_price(hourly)} per hour",
                   self.prod.instance_count * hourly * minutes / 60)

    def codepipeline(self) -> Row:
        minutes = sum(a.minutes for a in self.actions if a.provider != "Manual")
        return Row("CodePipeline V2", f"{minutes} action minutes (the approval is free)",
                   f"{unit_price(CODEPIPELINE_PER_ACTION_MINUTE)} per minute",
                   minutes * CODEPIPELINE_PER_ACTION_MINUTE)

    def prod_endpoint(self) -> str:
        prod, hourly = self.prod, sagemaker_hourly("hosting", self.prod.instance_type)
        monthly = [money(n * hourly * HOURS_PER_MONTH) for n in (prod.min_count, prod.max_count)]
        scales = prod.max_count > prod.min_count
        counts = f"x{prod.min_count}" + (f" to x{prod.max_count} (auto scaling)" if scales
                                         else "")
        return (f"| Prod endpoint | {prod.instance_type} {counts}, {HOURS_PER_MONTH} h a month | "
                f"{unit_price(hourly)} per hour | "
                f"{' to '.join(monthly if scales else monthly[:1])} a month |")

    def cost_table(self) -> list[str]:
        per_release = [self.codebuild(), *self.jobs(), self.qa_endpoint(),
                       self.canary_overlap(), self.codepipeline()]
        waiting = self.qa.instance_count * sagemaker_hourly("hosting", self.qa.instance_type)
        return ["| Item | Configuration | Unit price | Cost |", "|---|---|---|---|",
                "| **Per release** (one pipeline execution) | | | |",
                *(row.markdown() for row in per_release),
                f"| **Per release, total** | | | **{money(sum(r.cost for r in per_release))}**"
                f" + {unit_price(waiting)} per hour waiting for approval |",
                "| **Always on** | | | |",
                self.prod_endpoint()]


def times_table(actions: list[Action]) -> list[str]:
    rows = ["| Stage | Actions, minutes (∥ parallel, → then) | ≈ Minutes |", "|---|---|---|"]
    spans = timeline(actions)
    for stage in dict.fromkeys(a.stage for a in actions):
        mine = [a for a in actions if a.stage == stage]
        if all(a.provider == "Manual" for a in mine):
            rows.append(f"| {stage} | {', '.join(a.name for a in mine)}: until someone approves "
                        f"or rejects (at most {APPROVAL_TIMEOUT_DAYS} days) | — |")
            continue
        orders = sorted({a.run_order for a in mine})
        text = " → ".join(" ∥ ".join(f"{a.name} {a.minutes}" for a in mine if a.run_order == o)
                          for o in orders)
        took = max(spans[a.key][1] for a in mine) - min(spans[a.key][0] for a in mine)
        rows.append(f"| {stage} | {text} | {took} |")
    total = max(end for _, end in spans.values())
    rows.append(f"| **Total** | without the approval wait | **{total}** |")
    return rows


def render(root: Path = REPO) -> str:
    """The Markdown that goes between the markers of Docs/deploying-to-aws.md."""
    release = Release.read(root)
    return "\n".join([
        *times_table(release.actions), "", *release.cost_table(), "",
        f"Prices: on-demand, {REGION}, read on {PRICES_TAKEN} ("
        + ", ".join(f"[{name}]({url})" for name, url in SOURCES.items())
        + " pricing; Docs/cost.py says through which copies); they change, check them. "
        "Minutes are estimates for this small model, not "
        "measurements. Left out: free tiers, and S3, ECR, CloudWatch, Step Functions (a few state "
        "transitions per release), API Gateway and Lambda (cents a month at low traffic)."]) + "\n"


def replaced(name: str, document: str, block: str) -> str:
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise CostError(f"{name} has no `{BEGIN}` ... `{END}` markers")
    return f"{document[:start + len(BEGIN)]}\n{block}{document[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="update the documents' tables")
    mode.add_argument("--check", action="store_true", help="exit 1 if a document is stale")
    args = parser.parse_args(argv)
    try:
        block = render()
        if not (args.write or args.check):
            print(block, end="")
            return 0
        documents = {path: path.read_text() for path in DOCS}
        updated = {path: replaced(path.name, text, block) for path, text in documents.items()}
    except CostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stale = [path for path in DOCS if updated[path] != documents[path]]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(REPO)} is out of date: run python Docs/cost.py --write",
                  file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(updated[path])
    return 0


if __name__ == "__main__":
    sys.exit(main())
