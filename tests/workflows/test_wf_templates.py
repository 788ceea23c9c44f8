"""The workflows' CloudFormation stacks: generated files up to date, cfn-lint clean, the
project's policy rules (tests/policy/rules_kit.py) and least privilege: the state machine may pass
only the SageMaker execution role, invoke only its own functions, and call only what its
Task states call; the definition, once CloudFormation has substituted the parameters, is valid."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from policy.rules_kit import as_list, load, statements, violations

from sagepipe.stepfunctions.asl import validate_definition
from sagepipe.stepfunctions.integrations import unsupported_reason
from workflows import export, stack

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = {name: export.TEMPLATES / f"{name}.yaml" for name in export.MODULES}
SAMPLE = {"Bucket": "my-bucket", "Prefix": "team/workflows",
          "SageMakerRoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
          "InstanceType": "ml.m5.xlarge",
          "XGBoostImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1",
          "TitanicImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/titanic:1",
          "PrepareDataFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:prep",
          "CheckMetricFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:check",
          "PickBestFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:pick"}


def test_generated_templates_and_pictures_are_up_to_date():
    assert export.stale() == [], "run: python -m workflows.export"


@pytest.mark.slow  # cfn-lint: seconds
def test_cfn_lint_reports_nothing():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), "--format", "parseable", "--",
                             *map(str, TEMPLATES.values())],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_complies_with_the_project_policies(name):
    assert violations(load(TEMPLATES[name])) == []


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_statement_allows_every_resource(name):
    for where, statement in statements(load(TEMPLATES[name])):
        assert "*" not in as_list(statement.get("Resource")), where


def machine(name: str) -> dict:
    return load(TEMPLATES[name])["Resources"]["StateMachineComponent"]["Properties"]


def role_statements(name: str) -> dict[str, dict]:
    policies = load(TEMPLATES[name])["Resources"]["StateMachineRole"]["Properties"]["Policies"]
    return {s["Sid"]: s for policy in policies for s in policy["PolicyDocument"]["Statement"]}


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_state_machine_passes_only_the_sagemaker_role_to_sagemaker(name):
    passing = [s for s in role_statements(name).values()
               if "iam:PassRole" in as_list(s["Action"])]
    assert passing == [{"Sid": "PassSageMakerRole", "Effect": "Allow", "Action": "iam:PassRole",
                        "Resource": {"Ref": "SageMakerRoleArn"},
                        "Condition": {"StringEquals": {
                            "iam:PassedToService": "sagemaker.amazonaws.com"}}}]


@pytest.mark.parametrize(("name", "functions"), [
    ("retail", ["PrepareDataFunction", "CheckMetricFunction"]),
    ("experiments", ["PickBestFunction"]), ("abalone", []), ("titanic_train", []),
    ("titanic_inference", [])])
def test_the_state_machine_invokes_only_its_own_functions(name, functions):
    invoking = [s for s in role_statements(name).values()
                if any(a.startswith("lambda:") for a in as_list(s["Action"]))]
    assert [r["Fn::GetAtt"][0] for s in invoking for r in s["Resource"]] == functions
    resources = load(TEMPLATES[name])["Resources"]
    for function in functions:
        assert resources[function]["Properties"]["Runtime"] == "python3.12"
        role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0][
            "Principal"] == {"Service": "lambda.amazonaws.com"}


def test_the_state_machine_may_call_exactly_what_its_tasks_call():
    allowed = {a for s in role_statements("titanic_inference").values()
               for a in as_list(s["Action"])}
    assert allowed == {
        "sagemaker:DescribeTrainingJob", "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
        "sagemaker:CreateModel", "sagemaker:CreateTransformJob",
        "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob",
        "events:PutTargets", "events:PutRule", "events:DescribeRule", "iam:PassRole"}
    with pytest.raises(ValueError, match=re.escape("no IAM mapping for Task resource "
                                                   "arn:aws:states:::glue:startJobRun.sync")):
        stack.state_machine_statements({"States": {"Glue": {
            "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync"}}}, {})


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_substituted_definition_is_valid(name):
    properties = machine(name)
    substitutions = properties.get("DefinitionSubstitutions", {})
    text = properties["DefinitionString"]
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(substitutions)
    resolved = re.sub(r"\$\{(\w+)\}", lambda m: SAMPLE[m.group(1)], text)
    diagnostics, _ = validate_definition(resolved, unsupported_reason)
    assert diagnostics == []
    assert "000000000000" not in resolved and "sagepipe-workflows" not in resolved
    assert properties["RoleArn"] == {"Fn::GetAtt": ["StateMachineRole", "Arn"]}
    json.loads(resolved)
