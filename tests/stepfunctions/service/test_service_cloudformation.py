"""`AWS::StepFunctions::StateMachine` deployed by the local CloudFormation API for real:
a definition as an object, as a string and from the local S3, with substitutions; Ref and
GetAtt as AWS answers them; updated in place, replaced on a new name, deleted with the stack;
an invalid definition rolls the stack back with Step Functions' reason."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from service_kit import ROLE, wait_until_done
from testkit import REPO, LocalStacks, StackFailed, unique

from sagepipe.cloudformation.providers import Context, provider_for

TEMPLATE = """
Parameters:
  Greeting: {Type: String}
  Bucket: {Type: String}
  FixedName: {Type: String}
  WaitSeconds: {Type: Number, Default: 0}
Resources:
  Inline:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: ROLE_ARN
      Definition:
        StartAt: Hello
        States:
          Hello:
            Type: Pass
            Result: {greeting: "${Greeting}"}
            End: true
      DefinitionSubstitutions:
        Greeting: !Ref Greeting
      Tags: [{Key: team, Value: ml}]
  FromString:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: !Ref FixedName
      StateMachineType: EXPRESS
      RoleArn: ROLE_ARN
      DefinitionString: !Sub '{"StartAt": "W", "States": {"W": {"Type": "Wait",
        "Seconds": ${WaitSeconds}, "End": true}}}'
  FromS3:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: ROLE_ARN
      DefinitionS3Location: {Bucket: !Ref Bucket, Key: machine.json}
      DefinitionSubstitutions: {Next: Done}
Outputs:
  InlineArn: {Value: !Ref Inline}
  InlineName: {Value: !GetAtt Inline.Name}
  FixedArn: {Value: !GetAtt FromString.Arn}
  FromS3Arn: {Value: !Ref FromS3}
""".replace("ROLE_ARN", ROLE)

S3_DEFINITION = json.dumps({"StartAt": "First", "States": {
    "First": {"Type": "Pass", "Next": "${Next}"}, "Done": {"Type": "Succeed"}}})


@pytest.fixture
def stacks(local_aws) -> LocalStacks:
    return LocalStacks(local_aws)


@pytest.fixture
def bucket(aws) -> str:
    name = unique("cfn-sfn")
    aws("s3").create_bucket(Bucket=name)
    aws("s3").put_object(Bucket=name, Key="machine.json", Body=S3_DEFINITION.encode())
    return name


def run_once(sfn, arn: str) -> dict:
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    return wait_until_done(sfn, execution, timeout=30)


def test_deploy_update_replace_and_delete(stacks, sfn, bucket, local_aws):
    ctx = Context(local_aws, lambda _: None)
    stack, fixed = unique("sfn-stack"), unique("fixed")
    parameters = {"Greeting": "hello", "Bucket": bucket, "FixedName": fixed}
    outputs = stacks.deploy(stack, TEMPLATE, parameters)
    inline = outputs["InlineArn"]
    assert inline == f"arn:aws:states:us-east-1:000000000000:stateMachine:" \
                     f"{outputs['InlineName']}"
    assert outputs["InlineName"].startswith("Inline-")  # generated, as CloudFormation does
    assert outputs["FixedArn"].endswith(f":stateMachine:{fixed}")
    assert json.loads(run_once(sfn, inline)["output"]) == {"greeting": "hello"}
    assert run_once(sfn, outputs["FromS3Arn"])["status"] == "SUCCEEDED"
    assert sfn.describe_state_machine(stateMachineArn=outputs["FixedArn"])["type"] == "EXPRESS"
    assert sfn.list_tags_for_resource(resourceArn=inline)["tags"] == [{"key": "team",
                                                                       "value": "ml"}]
    revision = sfn.describe_state_machine(stateMachineArn=inline)["revisionId"]
    provider = provider_for("AWS::StepFunctions::StateMachine")
    assert provider.attributes(ctx, outputs["InlineName"]) == {
        "Arn": inline, "Name": outputs["InlineName"], "StateMachineRevisionId": revision}

    updated = stacks.deploy(stack, TEMPLATE, {**parameters, "Greeting": "bonjour"})
    assert updated["InlineArn"] == inline  # a new definition: updated in place
    assert sfn.describe_state_machine(stateMachineArn=inline)["revisionId"] != revision
    assert json.loads(run_once(sfn, inline)["output"]) == {"greeting": "bonjour"}

    renamed = unique("renamed")
    replaced = stacks.deploy(stack, TEMPLATE, {**parameters, "Greeting": "bonjour",
                                                     "FixedName": renamed})
    assert replaced["FixedArn"].endswith(f":stateMachine:{renamed}")
    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        sfn.describe_state_machine(stateMachineArn=outputs["FixedArn"])

    stacks.delete(stack)
    for arn in (inline, replaced["FixedArn"], outputs["FromS3Arn"]):
        with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
            sfn.describe_state_machine(stateMachineArn=arn)


def test_an_invalid_definition_rolls_the_stack_back_with_the_reason(stacks, bucket):
    stack = unique("sfn-bad")
    template = TEMPLATE.replace("Type: Pass\n", "Type: Pas\n")
    with pytest.raises(StackFailed, match=r"InvalidDefinition: Invalid State Machine "
                                         r"Definition: .*at /States/Hello"):
        stacks.deploy(stack, template, {"Greeting": "x", "Bucket": bucket,
                                              "FixedName": unique("fixed")})
    assert stacks.describe(stack)["StackStatus"] == "ROLLBACK_COMPLETE"


def test_a_workflow_template_of_this_repository_deploys(stacks, sfn):
    """workflows/templates/titanic_train.yaml (its role recorded, its state machine created
    with the substitutions applied and validated as AWS validates it)."""
    stack = unique("titanic-train")
    image = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-model:wf"
    template = (REPO / "workflows" / "templates" / "titanic_train.yaml").read_text()
    outputs = stacks.deploy(stack, template,
                            {"Bucket": "wf-bucket", "TitanicImageUri": image,
                             "SageMakerRoleArn": "arn:aws:iam::000000000000:role/SageMaker"})
    described = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
    assert described["name"] == stack
    assert described["roleArn"].startswith("arn:aws:iam::000000000000:role/")
    assert image in described["definition"] and "${" not in described["definition"]
    stacks.delete(stack)
