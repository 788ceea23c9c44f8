"""Whatever pipeline a template defines runs locally, created by the local CloudFormation from
the template (not from a private reading of it): a small pipeline unlike the project's own, with
`sagepipe run --template` and `sagepipe watch`, in a throw-away git repository."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from testkit import client_for, free_port
from tiny_kit import MAKE, STACK, VERIFY, commit, git

from sagepipe.config import Settings
from sagepipe.server import stop

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ProjectName: {Type: String, Default: tiny}
  CodeConnectionArn: {Type: String}
Resources:
  ArtifactBucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !Sub "${ProjectName}-artifacts"}
  BuildProject:
    Type: AWS::CodeBuild::Project
    Properties:
      Name: !Sub "${ProjectName}-make"
      ServiceRole: !GetAtt BuildRole.Arn
      Artifacts: {Type: CODEPIPELINE}
      Source: {Type: CODEPIPELINE, BuildSpec: ci/make.yml}
      Environment:
        Type: LINUX_CONTAINER
        ComputeType: BUILD_GENERAL1_SMALL
        Image: aws/codebuild/amazonlinux2-x86_64-standard:5.0
        EnvironmentVariables:
          - {Name: FLAVOUR, Value: vanilla}
          - {Name: BUCKET, Value: !Ref ArtifactBucket}
  VerifyProject:
    Type: AWS::CodeBuild::Project
    Properties:
      Name: !Sub "${ProjectName}-verify"
      ServiceRole: !GetAtt BuildRole.Arn
      Artifacts: {Type: CODEPIPELINE}
      Source: {Type: CODEPIPELINE, BuildSpec: ci/verify.yml}
      Environment: {Type: LINUX_CONTAINER, ComputeType: BUILD_GENERAL1_SMALL,
                    Image: aws/codebuild/amazonlinux2-x86_64-standard:5.0}
  BuildRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "${ProjectName}-build"
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: [codebuild.amazonaws.com, codepipeline.amazonaws.com]}
            Action: sts:AssumeRole
  Topic:
    Type: AWS::SNS::Topic
    Properties: {TopicName: !Sub "${ProjectName}-approvals"}
  Subscription:
    Type: AWS::SNS::Subscription
    Properties: {TopicArn: !Ref Topic, Protocol: email, Endpoint: reviewer@example.com}
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: !Sub "${ProjectName}-pipeline"
      PipelineType: V2
      RoleArn: !GetAtt BuildRole.Arn
      ArtifactStore: {Type: S3, Location: !Ref ArtifactBucket}
      Stages:
        - Name: Checkout
          Actions:
            - Name: Code
              Namespace: Src
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeStarSourceConnection,
                             Version: "1"}
              Configuration: {ConnectionArn: !Ref CodeConnectionArn, FullRepositoryId: me/tiny,
                              BranchName: main}
              OutputArtifacts: [{Name: Code}]
        - Name: Make
          Actions:
            - Name: Compile
              Namespace: Make
              ActionTypeId: {Category: Build, Owner: AWS, Provider: CodeBuild, Version: "1"}
              Configuration:
                ProjectName: !Ref BuildProject
                EnvironmentVariables: '[{"name":"COMMIT","value":"#{Src.CommitId}"}]'
              InputArtifacts: [{Name: Code}]
              OutputArtifacts: [{Name: Built}]
        - Name: Ship
          Actions:
            - Name: Stack
              Namespace: Shipped
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: CloudFormation, Version: "1"}
              Configuration:
                ActionMode: CREATE_UPDATE
                StackName: !Sub "${ProjectName}-stack"
                TemplatePath: Built::stack.yaml
                ParameterOverrides: '{"Greeting": "#{Make.GREETING}"}'
                OutputFileName: outputs.json
              InputArtifacts: [{Name: Built}]
              OutputArtifacts: [{Name: StackOut}]
            - Name: Plan
              RunOrder: 2
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: CloudFormation, Version: "1"}
              Configuration:
                ActionMode: CHANGE_SET_REPLACE
                StackName: !Sub "${ProjectName}-echo"
                ChangeSetName: echo
                TemplatePath: Built::stack.yaml
                ParameterOverrides: >-
                  {"Greeting": {"Fn::GetParam": ["StackOut", "outputs.json", "Shout"]}}
              InputArtifacts: [{Name: Built}, {Name: StackOut}]
            - Name: Apply
              RunOrder: 3
              Namespace: Echo
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: CloudFormation, Version: "1"}
              Configuration: {ActionMode: CHANGE_SET_EXECUTE, StackName: !Sub "${ProjectName}-echo",
                              ChangeSetName: echo}
        - Name: Gate
          Actions:
            - Name: Review
              ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: "1"}
              Configuration:
                NotificationArn: !Ref Topic
                CustomData: "greeting #{Make.GREETING}"
                ExternalEntityLink: "https://example.com/#{Src.CommitId}"
        - Name: Verify
          Actions:
            - Name: Check
              ActionTypeId: {Category: Test, Owner: AWS, Provider: CodeBuild, Version: "1"}
              Configuration:
                ProjectName: !Ref VerifyProject
                EnvironmentVariables: '[{"name":"SHOUT","value":"#{Shipped.Shout}"}]'
              InputArtifacts: [{Name: Code}]
"""
STAGES = ["Checkout.Code", "Make.Compile", "Ship.Stack", "Ship.Plan", "Ship.Apply",
          "Gate.Review", "Verify.Check"]


class TinyRepo:
    def __init__(self, root: Path) -> None:
        self.path = root / "repo"
        (self.path / "ci").mkdir(parents=True)
        for name, text in (("pipeline.yaml", TEMPLATE), ("local-parameters.json",
                                                         '{"ProjectName": "tiny"}\n'),
                           ("ci/make.yml", MAKE), ("ci/verify.yml", VERIFY),
                           ("ci/stack.yaml", STACK)):
            (self.path / name).write_text(text)
        git(root, "init", "-q", "-b", "main", str(self.path))
        git(self.path, "add", "-A")
        git(self.path, "commit", "-qm", "tiny pipeline")
        self.settings = Settings(home=root / "home", port=free_port())
        self.api = client_for(self.settings, "codepipeline")

    def sagepipe(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).parent / "sagepipe"), "--home",
                str(self.settings.home), "--port", str(self.settings.port), *args]

    def executions(self) -> list[dict]:
        return self.api.list_pipeline_executions(pipelineName="tiny-pipeline")[
            "pipelineExecutionSummaries"]

    def actions(self, execution_id: str) -> dict[str, dict]:
        details = self.api.list_action_executions(
            pipelineName="tiny-pipeline", filter={"pipelineExecutionId": execution_id})[
            "actionExecutionDetails"]
        return {f"{d['stageName']}.{d['actionName']}": d
                for d in sorted(details, key=lambda d: d["startTime"])}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    repo = TinyRepo(tmp_path_factory.mktemp("template"))
    yield repo
    stop(repo.settings)


def test_run_deploys_the_template_and_runs_the_pipeline_it_defines(tiny):
    done = subprocess.run(tiny.sagepipe("run", "--auto-approve", "--template", "pipeline.yaml"),
                          cwd=tiny.path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    execution = tiny.executions()[0]
    actions = tiny.actions(execution["pipelineExecutionId"])
    assert list(actions) == STAGES
    assert {a["status"] for a in actions.values()} == {"Succeeded"}
    assert actions["Ship.Stack"]["output"]["outputVariables"] == {"Shout": "hello-vanilla!"}
    # a change set made from the first stack's outputs file (Fn::GetParam), then executed
    assert actions["Ship.Apply"]["output"]["outputVariables"] == {"Shout": "hello-vanilla!!"}
    head = execution["sourceRevisions"][0]["revisionId"]
    eml = next(p for p in (tiny.settings.home / "outbox").glob("*.eml")
                 if "APPROVAL NEEDED" in p.read_text())
    email = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert email["To"] == "reviewer@example.com"
    assert email["Subject"].strip() == ("APPROVAL NEEDED: AWS CodePipeline tiny-pipeline for "
                                        "action Review")
    body = email.get_content()
    assert "greeting hello-vanilla" in body
    assert f"sagepipe --port {tiny.settings.port} approve --comment" in body
    assert f"https://example.com/{head}" in body
    outputs = actions["Ship.Stack"]["output"]["outputArtifacts"][0]["s3location"]
    assert outputs["key"].startswith("tiny-pipeline/StackOut/")
    cfn = client_for(tiny.settings, "cloudformation")
    assert {r["ResourceType"] for r in cfn.describe_stack_resources(
        StackName="tiny-pipeline")["StackResources"]} >= {"AWS::CodePipeline::Pipeline",
                                                          "AWS::CodeBuild::Project"}
    assert json.loads(tiny.api.get_pipeline(name="tiny-pipeline")["pipeline"]["stages"][1][
        "actions"][0]["configuration"]["EnvironmentVariables"])[0]["name"] == "COMMIT"


def test_watch_pushes_each_new_commit_and_the_push_runs_the_pipeline(tiny):
    watcher = subprocess.Popen(tiny.sagepipe("watch", "--interval", "1", "--auto-approve",
                                             "--template", "pipeline.yaml"), cwd=tiny.path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def finished(count: int) -> list[dict]:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                done = [e for e in tiny.executions() if e["status"] != "InProgress"]
                if len(done) >= count:
                    return done
                time.sleep(0.5)
            raise AssertionError(f"fewer than {count} executions finished")

        before = len(tiny.executions())
        finished(before + 1)
        head = commit(tiny.path, "a new commit")
        latest = finished(before + 2)[0]
        assert latest["sourceRevisions"][0]["revisionId"] == head
        assert latest["status"] == "Succeeded"
        assert latest["trigger"]["triggerType"] == "Webhook"  # the push started it
    finally:
        watcher.terminate()
        watcher.wait(30)
