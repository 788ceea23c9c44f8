"""`sagepipe stacks` and `sagepipe stack NAME`, clients of the local CloudFormation API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stack_kit import wait
from testkit import unique

BIN = Path(sys.executable).parent


def sagepipe(settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "sagepipe"), "--home", str(settings.home), "--port",
                           str(settings.port), *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"}, check=False)


def test_stacks_and_stack_show_status_outputs_resources_and_events(local_aws, aws):
    cfn, name = aws("cloudformation"), unique("cli")
    cfn.create_stack(StackName=name, TemplateBody="""
Description: shown by the CLI
Resources:
  Topic: {Type: AWS::SNS::Topic, Properties: {TopicName: !Sub "${AWS::StackName}-topic"}}
  Alarm: {Type: AWS::CloudWatch::Alarm}
Outputs:
  TopicArn: {Value: !Ref Topic, Export: {Name: !Sub "${AWS::StackName}-topic"}}
""")
    wait(cfn, "stack_create_complete", StackName=name)

    listed = sagepipe(local_aws, "stacks")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if name in line)
    assert "CREATE_COMPLETE" in row and "shown by the CLI" in row
    assert f"local AWS: {local_aws.endpoint_url}" in listed.stderr

    shown = sagepipe(local_aws, "stack", name)
    assert shown.returncode == 0, shown.stderr
    assert f"{name}: CREATE_COMPLETE" in shown.stdout
    assert f"arn:aws:sns:us-east-1:000000000000:{name}-topic" in shown.stdout
    assert "not emulated locally, recorded only" in shown.stdout  # the alarm's event
    lines = shown.stdout.splitlines()
    assert any("TopicArn" in line and f"{name}-topic" in line for line in lines)

    cfn.delete_stack(StackName=name)
    wait(cfn, "stack_delete_complete", StackName=name)
    assert name not in sagepipe(local_aws, "stacks").stdout
    assert name in sagepipe(local_aws, "stacks", "--deleted").stdout
    missing = sagepipe(local_aws, "stack", name)
    assert missing.returncode == 1
    assert f"Stack with id {name} does not exist" in missing.stderr
