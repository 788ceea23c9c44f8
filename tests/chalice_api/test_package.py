"""`chalice package` of chalice-api/, as CodePipeline/buildspecs/api.yml runs it, writes a SAM
template that cfn-lint accepts with no findings (informational checks included, no rule
ignored), with IAM auth on every route and a role that can only reach the endpoint it names."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from testkit import REPO, chalice_package

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """What the PackageApi build packages: the prod stage, with the endpoint name parameter."""
    return chalice_package(tmp_path_factory.mktemp("package"), "--stage", "prod",
                           "--merge-template", str(REPO / "CodePipeline" / "api-parameters.json"))


@pytest.fixture(scope="module")
def template(package: Path) -> dict:
    return json.loads((package / "sam.json").read_text())


def cfn_lint(template_path: Path) -> subprocess.CompletedProcess:
    lint = yaml.safe_load((REPO / ".cfnlintrc.yaml").read_text())
    return subprocess.run([str(BIN / "cfn-lint"), "--include-checks", *lint["include_checks"],
                           "--regions", *lint["regions"], "--", str(template_path)],
                          cwd=template_path.parent, capture_output=True, text=True, check=False)


def test_cfn_lint_finds_nothing(package):
    done = cfn_lint(package / "sam.json")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_a_plain_chalice_package_is_lint_clean_too(tmp_path):
    """`chalice package OUT` (the dev stage, no merge template) for trying things out."""
    done = cfn_lint(chalice_package(tmp_path) / "sam.json")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_package_holds_the_app_and_nothing_else(package):
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        listing = archive.namelist()
    assert sorted(listing) == ["app.py", "chalice/__init__.py", "chalice/app.py",
                               "chalicelib/errors.py", "chalicelib/records.py"]


def test_every_route_requires_iam_auth(template):
    definition = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert definition["securityDefinitions"]["sigv4"]["x-amazon-apigateway-authtype"] == \
        "awsSigv4"
    routes = {(path, method): operation.get("security")
              for path, operations in definition["paths"].items()
              for method, operation in operations.items()}
    assert set(routes) == {("/predict", "post"), ("/health", "get")}
    assert all(security == [{"sigv4": []}] for security in routes.values()), routes


def test_the_endpoint_name_is_a_parameter_passed_to_the_function(template):
    assert "EndpointName" in template["Parameters"]
    function = template["Resources"]["APIHandler"]["Properties"]
    assert function["Environment"]["Variables"] == {"ENDPOINT_NAME": {"Ref": "EndpointName"}}
    assert function["Timeout"] == 30


def test_the_function_role_reaches_only_its_endpoint_and_logs(template):
    roles = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 1
    [policy] = roles[0]["Properties"]["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    endpoint = statements["TheProdEndpointOnly"]
    assert endpoint["Action"] == ["sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint"]
    assert endpoint["Resource"]["Fn::Sub"].endswith(":endpoint/${EndpointName}")
    assert statements["OwnLogs"]["Resource"]["Fn::Sub"].endswith(
        ":log-group:/aws/lambda/${AWS::StackName}-*")
    assert all("*" not in json.dumps(s["Action"]) for s in statements.values())
