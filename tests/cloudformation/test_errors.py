"""Bad input to the local CloudFormation gets CloudFormation's error, never a 500, and leaves no
stack behind: malformed templates, bad parameters, unknown stacks, missing capabilities, stacks
in states that refuse the operation.

Where the message is AWS's own text it is asserted whole (the ones users search for: "Stack
with id X does not exist", "Parameters: [X] must have values", "Requires capabilities :
[CAPABILITY_NAMED_IAM]", "Template format error: ..."); the others by their substance."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from stack_kit import aws_cli, parameters, wait
from testkit import unique

PARAMETERIZED = """
Parameters:
  Stage: {Type: String, AllowedValues: [qa, prod]}
  Project: {Type: String, AllowedPattern: "^[a-z]+$", ConstraintDescription: lowercase letters}
  Short: {Type: String, MaxLength: 3, Default: abc}
  Count: {Type: Number, MinValue: 1, MaxValue: 20, Default: 1}
Resources:
  Topic: {Type: AWS::SNS::Topic}
"""


def refused(call, code: str = "ValidationError") -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] < 500
    assert error["Code"] == code, error
    return error["Message"]


@pytest.mark.parametrize("body, message", [
    ("Resources: [a, b", "Template format error: YAML not well-formed. (line 1, column 17)"),
    ('{"Resources": {', "Template format error: JSON not well-formed. (line 1, column 16)"),
    ("just text", "Template format error: unsupported structure."),
    ("Description: nothing", "Template format error: At least one Resources member must be "
                             "defined."),
    ("Resources: {A: {Type: AWS::SNS::Topic}}\nOops: {}",
     "Template format error: Invalid template property or properties [Oops]"),
    ("Resources: {A: {Properties: {}}}",
     "Template format error: [/Resources/A] Every Resources object must contain a Type member."),
    ("Resources: {A: {Type: not-a-type}}",
     "Template format error: Unrecognized resource types: [not-a-type]"),
    ("Resources: {A: {Type: AWS::SNS::Topic, Properties: {DisplayName: !Ref Nowhere}}}",
     "Template format error: Unresolved resource dependencies [Nowhere] in the Resources block "
     "of the template"),
    ("Resources: {A: {Type: AWS::SNS::Topic}}\nOutputs: {X: {Value: !GetAtt B.Arn}}",
     "Template error: instance of Fn::GetAtt references undefined resource B"),
    ("Resources:\n  A: {Type: AWS::SNS::Topic, DependsOn: B}\n"
     "  B: {Type: AWS::SNS::Topic, DependsOn: A}",
     "Circular dependency between resources: [A, B]"),
    ("Parameters: {P: {Type: Strung}}\nResources: {A: {Type: AWS::SNS::Topic}}",
     "Template format error: Unrecognized parameter type: Strung"),
    ("Resources: {A: {Type: AWS::SNS::Topic}}\nOutputs: {X: {Description: no value}}",
     "Template format error: [/Outputs/X] Every Outputs member must contain a Value object"),
    ("Resources: {A-1: {Type: AWS::SNS::Topic}}",
     "Template format error: Resource name A-1 is non alphanumeric."),
    ("Resources: {A: {Type: AWS::SNS::Topic, Properties: [1, 2]}}",
     "Template format error: [/Resources/A/Properties] Properties must be an object"),
    ("Resources: {A: {Type: AWS::SNS::Topic, DependsOn: 5}}",
     "Template format error: [/Resources/A/DependsOn] DependsOn must be a resource name or a "
     "list of resource names"),
    ("Outputs: 5\nResources: {A: {Type: AWS::SNS::Topic}}",
     "Template format error: The Outputs section must be an object"),
])
def test_malformed_templates_are_template_format_errors(aws, body, message):
    cfn, name = aws("cloudformation"), unique("bad")
    assert refused(lambda: cfn.validate_template(TemplateBody=body)) == message
    assert refused(lambda: cfn.create_stack(StackName=name, TemplateBody=body)) == message
    assert refused(lambda: cfn.describe_stacks(StackName=name)) == \
        f"Stack with id {name} does not exist"


@pytest.mark.parametrize("given, message", [
    ({"Project": "x"}, "Parameters: [Stage] must have values"),
    ({"Stage": "dev", "Project": "x"}, "Parameter 'Stage' must be one of AllowedValues"),
    ({"Stage": "qa", "Project": "X1"}, "Parameter Project failed to satisfy constraint: "
                                       "lowercase letters"),
    ({"Stage": "qa", "Project": "x", "Short": "abcd"},
     "Parameter 'Short' must contain at most 3 characters"),
    ({"Stage": "qa", "Project": "x", "Count": "0"},
     "Parameter 'Count' must be a number not less than 1"),
    ({"Stage": "qa", "Project": "x", "Count": "many"}, "Parameter 'Count' must be a number"),
    ({"Stage": "qa", "Project": "x", "Nope": "1"},
     "Parameters: [Nope] do not exist in the template"),
])
def test_bad_parameters_are_refused_before_anything_starts(aws, given, message):
    cfn, name = aws("cloudformation"), unique("params")
    assert refused(lambda: cfn.create_stack(StackName=name, TemplateBody=PARAMETERIZED,
                                            Parameters=parameters(**given))) == message
    assert refused(lambda: cfn.describe_stacks(StackName=name)).endswith("does not exist")


def test_requests_that_name_no_usable_template_or_stack(aws, local_aws):
    cfn = aws("cloudformation")
    body = "Resources: {A: {Type: AWS::SNS::Topic}}"
    assert refused(lambda: cfn.create_stack(StackName=unique("s"))) == (
        "Either Template URL or Template Body must be specified.")
    assert refused(lambda: cfn.create_stack(StackName="1-starts-with-a-digit",
                                            TemplateBody=body)) == (
        "1 validation error detected: Value '1-starts-with-a-digit' at 'stackName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z][-a-zA-Z0-9]*")
    assert refused(lambda: cfn.create_stack(StackName=unique("s"), TemplateBody=body,
                                            Parameters=parameters(Extra="1"))) == (
        "Parameter values specified for a template which does not require them.")
    assert refused(lambda: cfn.create_stack(
        StackName=unique("s"), TemplateURL="https://example.com/template.yaml")) == (
        "TemplateURL must be a supported URL.")
    assert refused(lambda: cfn.create_stack(
        StackName=unique("s"), TemplateURL="https://nobucket.s3.amazonaws.com/t.yaml")) == (
        "TemplateURL must reference a valid S3 object to which you have access.")
    big = "Resources:\n  A: {Type: AWS::SNS::Topic}\n" + "# padding\n" * 6000
    assert refused(lambda: cfn.validate_template(TemplateBody=big)).endswith(
        "Member must have length less than or equal to 51200")
    assert refused(lambda: cfn.update_stack(StackName="no-such-stack", TemplateBody=body)) == (
        "Stack [no-such-stack] does not exist")
    assert refused(lambda: cfn.describe_stack_events(StackName="no-such-stack")) == (
        "Stack with id no-such-stack does not exist")
    assert refused(lambda: cfn.get_template(StackName="no-such-stack")) == (
        "Stack with id no-such-stack does not exist")
    assert refused(lambda: cfn.describe_stack_resources(StackName="no-such-stack")) == (
        "Stack with id no-such-stack does not exist")
    assert refused(lambda: cfn.describe_stack_events(StackName="x", NextToken="not-a-token")
                   ).endswith("does not exist")
    assert refused(lambda: cfn.list_stacks(NextToken="not-a-token")).startswith(
        "Invalid NextToken")
    cli = aws_cli(local_aws, "cloudformation", "describe-stacks", "--stack-name", "nope",
                  check=False)
    assert cli.returncode == 255
    assert "An error occurred (ValidationError) when calling the DescribeStacks operation: " \
           "Stack with id nope does not exist" in cli.stderr


def test_iam_resources_need_their_capability(aws):
    cfn = aws("cloudformation")
    trust = ('{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sts:AssumeRole", '
             'Principal: {Service: sagemaker.amazonaws.com}}]}')
    named = (f"Resources: {{R: {{Type: AWS::IAM::Role, Properties: {{RoleName: {unique('role')}, "
             f"AssumeRolePolicyDocument: {trust}}}}}}}")
    unnamed = ("Resources: {R: {Type: AWS::IAM::Role, Properties: {AssumeRolePolicyDocument: "
               f"{trust}}}}}}}")
    assert refused(lambda: cfn.create_stack(StackName=unique("iam"), TemplateBody=named),
                   "InsufficientCapabilitiesException") == (
        "Requires capabilities : [CAPABILITY_NAMED_IAM]")
    assert refused(lambda: cfn.create_stack(StackName=unique("iam"), TemplateBody=named,
                                            Capabilities=["CAPABILITY_IAM"]),
                   "InsufficientCapabilitiesException") == (
        "Requires capabilities : [CAPABILITY_NAMED_IAM]")
    assert refused(lambda: cfn.create_stack(StackName=unique("iam"), TemplateBody=unnamed),
                   "InsufficientCapabilitiesException") == (
        "Requires capabilities : [CAPABILITY_IAM]")
    assert refused(lambda: cfn.create_change_set(
        StackName=unique("iam"), ChangeSetName="c", TemplateBody=unnamed,
        ChangeSetType="CREATE"), "InsufficientCapabilitiesException") == (
        "Requires capabilities : [CAPABILITY_IAM]")
    sam = ("Transform: AWS::Serverless-2016-10-31\nResources: {F: {Type: "
           "AWS::Serverless::Function, Properties: {Handler: a.b, Runtime: python3.12, "
           "CodeUri: s3://b/k}}}")
    assert refused(lambda: cfn.create_stack(StackName=unique("sam"), TemplateBody=sam,
                                            Capabilities=["CAPABILITY_IAM"]),
                   "InsufficientCapabilitiesException") == (
        "Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
    name = unique("iam")
    cfn.create_stack(StackName=name, TemplateBody=named, Capabilities=["CAPABILITY_NAMED_IAM"])
    wait(cfn, "stack_create_complete", StackName=name)
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)


def test_a_stack_name_is_taken_and_a_busy_stack_refuses_an_update(aws):
    cfn, name = aws("cloudformation"), unique("taken")
    body = "Resources: {A: {Type: AWS::SNS::Topic}}"
    cfn.create_stack(StackName=name, TemplateBody=body)
    assert refused(lambda: cfn.create_stack(StackName=name, TemplateBody=body),
                   "AlreadyExistsException") == f"Stack [{name}] already exists"
    wait(cfn, "stack_create_complete", StackName=name)
    assert refused(lambda: cfn.create_stack(StackName=name, TemplateBody=body),
                   "AlreadyExistsException") == f"Stack [{name}] already exists"
    assert refused(lambda: cfn.update_stack(
        StackName=name, TemplateBody=body,
        Parameters=[{"ParameterKey": "Gone", "UsePreviousValue": True}])) == (
        "Cannot specify usePreviousValue as true for a parameter key not in the previous "
        "template")
    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)


def test_properties_of_the_wrong_shape_fail_their_resource(aws):
    cfn, name = aws("cloudformation"), unique("shape")
    cfn.create_stack(StackName=name, TemplateBody="""
Resources:
  Topic: {Type: AWS::SNS::Topic, Properties: {Tags: 5}}
  Subscription: {Type: AWS::SNS::Subscription, Properties: {Protocol: email}}
""")
    with pytest.raises(Exception, match="Waiter StackCreateComplete failed"):
        wait(cfn, "stack_create_complete", StackName=name)
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    (failed,) = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed["ResourceStatusReason"] in (
        "Properties validation failed for resource Subscription with message: #: required "
        "key [TopicArn] not found",
        "Properties validation failed for resource Topic with message: Invalid type for "
        "parameter Tags, value: 5, type: <class 'int'>, valid types: <class 'list'>, "
        "<class 'tuple'>")
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == \
        "ROLLBACK_COMPLETE"
    cfn.delete_stack(StackName=name)
