"""The pipeline's actions fit together: variables, environment, artifacts and stack parameters.

These are the contracts a CodePipeline execution (and sagepipe's local executor) relies on and
that cfn-lint cannot see, because they cross from pipeline.yaml into the buildspecs, the
endpoint template and its stage configurations.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .templates_kit import (
    ENDPOINT,
    PIPELINE,
    PIPELINE_VARIABLE,
    REPO,
    Action,
    action,
    artifact_path,
    buildspec,
    exported_variables,
    glob_matches,
    packaged_api,
    parameter_accepts,
    pipeline_actions,
    resources,
    substitute,
    template,
)

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

# Output variables of the CodeStarSourceConnection source action.
SOURCE_VARIABLES = {"AuthorDate", "BranchName", "CommitId", "CommitMessage", "ConnectionArn",
                    "FullRepositoryName"}
# Set by CodeBuild itself in every build.
CODEBUILD_VARIABLES = {"AWS_REGION", "AWS_DEFAULT_REGION", "CODEBUILD_BUILD_ID",
                       "CODEBUILD_RESOLVED_SOURCE_VERSION", "CODEBUILD_SRC_DIR"}
REQUIRED_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?")
# Stand-ins for what CloudFormation substitutes into the pipeline's `Fn::Sub` strings.
PLACEHOLDERS = {
    "ProjectName": "sagepipe",
    "ArtifactBucket": "bucket",
    "SageMakerExecutionRole.Arn": "arn:aws:iam::123456789012:role/sagepipe-sagemaker-role",
}

CODEBUILD_ACTIONS = [a for a in pipeline_actions() if a.provider == "CodeBuild"]
ENDPOINT_DEPLOYS = [a for a in pipeline_actions() if "TemplateConfiguration" in a.configuration]


def _variables_of(producer: Action) -> set[str]:
    if producer.provider == "CodeStarSourceConnection":
        return SOURCE_VARIABLES
    if producer.provider == "CodeBuild":
        return set(exported_variables(producer.buildspec_path()))
    if producer.provider == "CloudFormation":
        _, path = artifact_path(producer.configuration["TemplatePath"])
        deployed = template(REPO / path) if (REPO / path).is_file() else packaged_api()
        return set(deployed["Outputs"])
    return set()


def test_every_variable_comes_from_an_earlier_action():
    by_namespace = {a.namespace: a for a in pipeline_actions() if a.namespace}
    references = [(consumer, namespace, variable)
                  for consumer in pipeline_actions()
                  for namespace, variable in PIPELINE_VARIABLE.findall(
                      json.dumps(consumer.configuration))]
    assert references
    for consumer, namespace, variable in references:
        producer = by_namespace.get(namespace)
        assert producer is not None, f"{consumer.name}: no action has namespace {namespace}"
        assert producer.runs_before(consumer), f"{consumer.name} runs before {producer.name}"
        assert variable in _variables_of(producer), f"{consumer.name}: {namespace}.{variable}"


@pytest.mark.parametrize("codebuild", CODEBUILD_ACTIONS, ids=lambda a: a.name)
def test_exported_variables_are_set_by_the_buildspec(codebuild: Action):
    path = codebuild.buildspec_path()
    text = (REPO / path).read_text()
    for variable in exported_variables(path):
        assert re.search(rf"(^|\s|export ){variable}=", text, re.MULTILINE), f"{path}: {variable}"


@pytest.mark.parametrize("codebuild", CODEBUILD_ACTIONS, ids=lambda a: a.name)
def test_required_environment_is_provided(codebuild: Action):
    """Each `${VAR:?...}` of a buildspec is set by CodeBuild, the project or the action."""
    path = codebuild.buildspec_path()
    required = set(REQUIRED_VARIABLE.findall((REPO / path).read_text()))
    project = codebuild.project()["Environment"].get("EnvironmentVariables", [])
    provided = (CODEBUILD_VARIABLES | {v["Name"] for v in project}
                | {v["name"] for v in codebuild.environment_overrides()})
    assert required - provided == set(), f"{path} needs what {codebuild.name} does not set"


def _producer_of(artifact: str) -> Action:
    (producer,) = [a for a in pipeline_actions() if artifact in a.outputs]
    return producer


@pytest.mark.parametrize("deploy", ENDPOINT_DEPLOYS, ids=lambda a: a.name)
def test_deployed_files_are_in_the_input_artifact(deploy: Action):
    for key in ("TemplatePath", "TemplateConfiguration"):
        artifact, path = artifact_path(deploy.configuration[key])
        assert artifact in deploy.inputs, f"{deploy.name}: {key} reads {artifact}"
        assert (REPO / path).is_file(), path
        producer = _producer_of(artifact)
        if producer.provider == "CodeBuild":
            patterns = buildspec(producer.buildspec_path())["artifacts"]["files"]
            assert any(glob_matches(p, path) for p in patterns), f"{artifact} lacks {path}"


@pytest.mark.parametrize("deploy", ENDPOINT_DEPLOYS, ids=lambda a: a.name)
def test_stage_parameters_are_complete_and_valid(deploy: Action):
    declared = template(ENDPOINT)["Parameters"]
    _, config_path = artifact_path(deploy.configuration["TemplateConfiguration"])
    configuration = json.loads((REPO / config_path).read_text())
    overrides = json.loads(substitute(deploy.configuration["ParameterOverrides"], PLACEHOLDERS))

    given = set(configuration["Parameters"]) | set(overrides)
    assert given <= set(declared), f"undeclared: {given - set(declared)}"
    required = {name for name, declaration in declared.items() if "Default" not in declaration}
    assert required <= given, f"missing: {required - given}"
    for name, value in configuration["Parameters"].items():
        assert isinstance(value, str), f"{config_path}: {name} must be a string"
        assert parameter_accepts(declared[name], value), f"{config_path}: {name}={value}"

    stage = Path(config_path).stem
    assert configuration["Parameters"]["StageName"] == stage
    # Fixed text only: the Project tag comes from ProjectName, in the template.
    assert configuration["Tags"] == {"Stage": stage}
    assert overrides["DataCaptureS3Uri"].endswith(f"/data-capture/{stage}")
    assert deploy.configuration["StackName"] == {"Fn::Sub": f"${{ProjectName}}-endpoint-{stage}"}


TAGGABLE = {"AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint",
            "AWS::CloudWatch::Alarm"}


def test_resources_are_tagged_with_the_project_name_it_is_deployed_as():
    """A stage configuration cannot know ProjectName (its tags are fixed text): the endpoint
    template tags its resources Project=<ProjectName> itself."""
    body = template(ENDPOINT)
    taggable = {name: r for name, r in body["Resources"].items() if r["Type"] in TAGGABLE}
    assert len(taggable) == 5
    for name, resource in taggable.items():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
        assert tags.get("Project") == {"Ref": "ProjectName"}, name
    for stage in ("qa", "prod"):
        configuration = json.loads((REPO / f"CloudFormation/config/{stage}.json").read_text())
        assert "Project" not in configuration.get("Tags", {}), f"{stage}.json hard-codes Project"


def test_prod_is_bigger_and_guarded_compared_to_qa():
    qa, prod = (json.loads((REPO / f"CloudFormation/config/{stage}.json").read_text())["Parameters"]
                for stage in ("qa", "prod"))
    assert (qa["InstanceType"], qa["InstanceCount"]) == ("ml.m5.large", "1")
    assert (prod["InstanceType"], prod["InstanceCount"]) == ("ml.m5.xlarge", "2")
    assert (qa["EnableAutoScaling"], qa["DeploymentStrategy"], qa["DataCaptureEnabled"]) == (
        "false", "AllAtOnce", "false")
    assert (prod["EnableAutoScaling"], prod["AutoScalingMinCapacity"],
            prod["AutoScalingMaxCapacity"]) == ("true", "2", "4")
    assert (prod["DeploymentStrategy"], prod["CanarySizePercent"]) == ("Canary", "10")
    assert (prod["DataCaptureEnabled"], prod["DataCaptureSamplingPercent"]) == ("true", "100")


def test_the_api_gets_the_prod_endpoint_name_and_its_permissions_boundary():
    deploy_api = action("DeployApi")
    packaging = _producer_of(artifact_path(deploy_api.configuration["TemplatePath"])[0])
    assert action("DeployProd").runs_before(packaging)
    overrides = json.loads(substitute(deploy_api.configuration["ParameterOverrides"], {}))
    assert overrides["EndpointName"] == "#{ProdEndpoint.EndpointName}"
    # The boundary the CloudFormation role requires is the pipeline stack's boundary policy.
    boundary = resources(PIPELINE, "AWS::IAM::ManagedPolicy")["ApiFunctionBoundary"]
    assert substitute(boundary["ManagedPolicyName"], {}) == "${ProjectName}-api-boundary"
    assert overrides["PermissionsBoundaryArn"] == "${ApiFunctionBoundary}"
    # The packaging merges a template that declares those parameters into chalice's SAM
    # template, and gives the function's role that boundary.
    merge = re.search(r"--merge-template\s+(\S+)",
                      (REPO / packaging.buildspec_path()).read_text())
    assert merge is not None
    merged = json.loads((REPO / "chalice-api" / merge.group(1)).resolve().read_text())
    assert set(merged["Parameters"]) == set(overrides)
    role = packaged_api()["Resources"]["ApiHandlerRole"]["Properties"]
    assert role["PermissionsBoundary"] == {"Ref": "PermissionsBoundaryArn"}


def test_prod_stage_runs_in_the_documented_order():
    prod = [a.name for a in pipeline_actions() if a.stage == "Prod"]
    assert prod == ["ClearFailedCreate", "DeployProd", "PackageApi", "DeployApi",
                    "DeployBatchInference", "SmokeTest", "TeardownQA"]
    # The batch inference scores with the prod endpoint: deployed after it, with its name.
    batch = action("DeployBatchInference")
    assert action("DeployProd").runs_before(batch)
    assert batch.configuration["ActionMode"] == "CREATE_UPDATE"
    assert '"EndpointName": "#{ProdEndpoint.EndpointName}"' in substitute(
        batch.configuration["ParameterOverrides"], {})
    assert action("TeardownQA").configuration["ActionMode"] == "DELETE_ONLY"
    assert action("TeardownQA").configuration["StackName"] == action("DeployQA").configuration[
        "StackName"]


def test_failed_first_creates_of_prod_stacks_are_cleared_before_their_deploys():
    """CREATE_UPDATE cannot update a stack left ROLLBACK_COMPLETE by a failed first create:
    ClearFailedCreate deletes exactly those stacks, before any prod deploy runs."""
    clear = action("ClearFailedCreate")
    updated = [a for a in pipeline_actions()
               if a.provider == "CloudFormation" and a.configuration.get("ActionMode")
               == "CREATE_UPDATE"]
    assert {a.name for a in updated} == {"DeployProd", "DeployApi", "DeployBatchInference"}
    assert all(clear.runs_before(a) for a in updated)
    (stacks,) = [v["Value"] for v in clear.project()["Environment"]["EnvironmentVariables"]
                 if v["Name"] == "PROD_STACKS"]
    assert substitute(stacks, {}).split() == [substitute(a.configuration["StackName"], {})
                                              for a in updated]
    assert "clear_failed_create.py ${PROD_STACKS:?" in (REPO / clear.buildspec_path()).read_text()


TRAINING_TEMPLATE = "workflows/templates/titanic_train.yaml"
# Stand-ins for the Build stage's variables, in the deploy action's parameters.
BUILD_VARIABLES = {"#{SourceVariables.CommitId}": "c0ffee1",
                   "#{Image.IMAGE_URI}": "123456789012.dkr.ecr.us-east-1.amazonaws.com/"
                                         "sagepipe-model:c0ffee1"}


def test_the_train_action_runs_the_state_machine_the_build_stage_deploys_from_the_commit():
    """DeployTrainingWorkflow deploys the commit's export of the training workflow (after
    BuildImage, whose image it runs), and Train starts that stack's state machine."""
    deploy, train = action("DeployTrainingWorkflow"), action("Train")
    assert deploy.stage == train.stage == "Build" and deploy.provider == "CloudFormation"
    assert action("BuildImage").runs_before(deploy) and deploy.runs_before(train)
    assert artifact_path(deploy.configuration["TemplatePath"]) == ("SourceOutput",
                                                                  TRAINING_TEMPLATE)
    # A failed first create (ROLLBACK_COMPLETE) is replaced by the next run, not stuck.
    assert deploy.configuration["ActionMode"] == "REPLACE_ON_FAILURE"
    assert deploy.configuration["Capabilities"] == "CAPABILITY_IAM"  # its role is unnamed
    assert {"name": "STATE_MACHINE_ARN", "value": "#{TrainingWorkflow.StateMachineArn}"} in \
        train.environment_overrides()
    assert deploy.namespace == "TrainingWorkflow"
    # The state machine is named after its stack: the name the Train role may start.
    body = template(REPO / TRAINING_TEMPLATE)
    machine = body["Resources"]["StateMachineComponent"]["Properties"]
    assert machine["StateMachineName"] == {"Ref": "AWS::StackName"}
    stack = substitute(deploy.configuration["StackName"], {})
    assert stack == "${ProjectName}-training"
    role = resources(PIPELINE, "AWS::IAM::Role")["TrainRole"]
    started = [s for s in role["Policies"][0]["PolicyDocument"]["Statement"]
               if "states:StartExecution" in s["Action"]]
    assert [substitute(s["Resource"], {}) for s in started] == [
        f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{stack}"]


def test_the_training_stack_gets_valid_parameters_and_its_boundary():
    deploy = action("DeployTrainingWorkflow")
    declared = template(REPO / TRAINING_TEMPLATE)["Parameters"]
    text = substitute(deploy.configuration["ParameterOverrides"], PLACEHOLDERS)
    for variable, value in BUILD_VARIABLES.items():
        text = text.replace(variable, value)
    overrides = json.loads(text)
    assert set(overrides) <= set(declared), set(overrides) - set(declared)
    assert {name for name, d in declared.items() if "Default" not in d} <= set(overrides)
    for name, value in overrides.items():
        if "${" not in value:  # Refs to the pipeline's resources are checked below
            assert parameter_accepts(declared[name], value), f"{name}={value}"
    # Data under <ProjectName>/<commit>/: where the SageMaker role may read and write.
    assert overrides["Prefix"] == "sagepipe/c0ffee1"
    # The state machine's role gets the boundary the CloudFormation role requires of it.
    assert overrides["PermissionsBoundaryArn"] == "${TrainingWorkflowBoundary}"
    role = resources(PIPELINE, "AWS::IAM::Role")["CloudFormationRole"]
    statements = {s["Sid"]: s for policy in role["Policies"]
                  for s in policy["PolicyDocument"]["Statement"]}
    within = statements["TrainingRoleWithinBoundary"]
    assert within["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == {
        "Ref": "TrainingWorkflowBoundary"}
    assert substitute(within["Resource"], {}).endswith(
        f":role/{substitute(deploy.configuration['StackName'], {})}-*")


def test_the_training_takes_the_commits_hyperparameters():
    """Hyperparameters are execution input, not baked into the exported definition: the
    buildspec passes model/hyperparameters.json, so a change of it needs no new template."""
    body = template(REPO / TRAINING_TEMPLATE)
    definition = json.loads(body["Resources"]["StateMachineComponent"]["Properties"][
        "DefinitionString"])
    train = definition["States"]["TrainStep"]["Parameters"]
    assert train["HyperParameters.$"] == "$$.Execution.Input['HyperParameters']"
    assert "HyperParameters" not in train
    assert "--hyperparameters model/hyperparameters.json" in (REPO / "buildspec.yml").read_text()
