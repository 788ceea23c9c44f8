"""The executor runs whatever pipeline the template defines: a small pipeline whose stages and
actions differ from the project's own, in a throw-away git repository."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from rich.console import Console
from testkit import free_port, reject_when_asked

from sagepipe.pipeline.actions import PROVIDERS
from sagepipe.pipeline.executor import Executor, PipelineError
from sagepipe.pipeline.history import History
from sagepipe.store import Store

PIPELINE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ProjectName: {Type: String, Default: tiny}
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
        EnvironmentVariables: [{Name: FLAVOUR, Value: vanilla}]
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
      AssumeRolePolicyDocument: {}
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
              Configuration: {ConnectionArn: "arn:aws:codeconnections:us-east-1:1:connection/x",
                              FullRepositoryId: me/tiny, BranchName: main}
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
MAKE = """version: 0.2
env:
  exported-variables: [GREETING]
phases:
  build:
    commands:
      - test -n "$COMMIT" && test "$COMMIT" = "$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - export GREETING="hello-$FLAVOUR"
      - mkdir -p out && cp ci/stack.yaml out/
      - echo "$MAKE_FAILS" | grep -qv yes
artifacts:
  base-directory: out
  files: [stack.yaml]
"""
STACK = """Parameters:
  Greeting: {Type: String}
Resources:
  Alerts: {Type: AWS::SNS::Topic}
Outputs:
  Shout: {Value: !Sub "${Greeting}!"}
"""
VERIFY = """version: 0.2
phases:
  build:
    commands: ['test "$SHOUT" = "hello-vanilla!"', echo verified > verified.txt]
"""


def make_repo(root: Path, fail_make: bool = False) -> Path:
    repo = root / "repo"
    (repo / "ci").mkdir(parents=True)
    (repo / "pipeline.yaml").write_text(PIPELINE)
    (repo / "ci" / "make.yml").write_text(MAKE.replace("$MAKE_FAILS", "yes" if fail_make else
                                                       "no"))
    (repo / "ci" / "verify.yml").write_text(VERIFY)
    (repo / "ci" / "stack.yaml").write_text(STACK)
    for command in (["init", "-q", "-b", "main"], ["add", "-A"],
                    ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm",
                     "tiny pipeline"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True)
    return repo


def executor(local_aws, repo: Path, auto_approve: bool = True) -> Executor:
    return Executor(local_aws, repo, repo / "pipeline.yaml", None, auto_approve=auto_approve,
                    console=Console(file=open("/dev/null", "w")))


def statuses(doc) -> dict[str, str]:
    return {f"{s['Name']}.{a['Name']}": a["Status"] for s in doc["Stages"] for a in s["Actions"]}


def test_runs_the_stages_the_template_defines_passing_artifacts_and_variables(
        local_aws, tmp_path):
    doc = executor(local_aws, make_repo(tmp_path)).run()
    assert doc["Status"] == "Succeeded", doc
    assert [s["Name"] for s in doc["Stages"]] == ["Checkout", "Make", "Ship", "Gate", "Verify"]
    assert set(statuses(doc).values()) == {"Succeeded"}
    ship = doc["Stages"][2]["Actions"][0]
    assert ship["Variables"] == {"Shout": "hello-vanilla!"}
    eml = next((local_aws.home / "outbox").glob(f"{doc['ExecutionId']}-Review.eml"))
    email = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert email["To"] == "reviewer@example.com"
    assert email["Subject"] == "APPROVAL NEEDED: AWS CodePipeline tiny-pipeline for action Review"
    body = email.get_content()
    assert "greeting hello-vanilla" in body
    assert f"--port {local_aws.port} approve --comment" in body
    assert f"https://example.com/{doc['Commit']}" in body
    assert History(Store(local_aws.db_path)).get(doc["ExecutionId"])["Status"] == "Succeeded"


def test_a_failed_action_stops_the_pipeline_with_its_log_excerpt(local_aws, tmp_path):
    doc = executor(local_aws, make_repo(tmp_path, fail_make=True)).run()
    assert doc["Status"] == "Failed"
    assert statuses(doc) == {"Checkout.Code": "Succeeded", "Make.Compile": "Failed",
                             "Ship.Stack": "Pending", "Gate.Review": "Pending",
                             "Verify.Check": "Pending"}
    make = doc["Stages"][1]["Actions"][0]
    assert "phase BUILD" in make["Error"]
    assert "Command did not exit successfully" in make["Excerpt"]


def test_rejection_stops_before_the_next_stage(local_aws, tmp_path):
    run = executor(local_aws, make_repo(tmp_path), auto_approve=False)
    result = reject_when_asked(History(Store(local_aws.db_path)), run.run, "not today")
    assert result["Status"] == "Failed"
    assert statuses(result)["Gate.Review"] == "Failed"
    assert statuses(result)["Verify.Check"] == "Pending"
    assert "not today" in result["Stages"][3]["Actions"][0]["Error"]


def test_unsupported_action_providers_are_refused_before_anything_runs(local_aws, tmp_path):
    repo = make_repo(tmp_path)
    (repo / "pipeline.yaml").write_text(PIPELINE.replace(
        "Provider: Manual", "Provider: ServiceCatalog"))
    with pytest.raises(PipelineError, match=r"Gate\.Review \(Approval/ServiceCatalog\)"):
        executor(local_aws, repo)


def test_watch_runs_the_pipeline_on_each_new_commit(tmp_path):
    repo = make_repo(tmp_path)
    home = tmp_path / "watch-home"
    cli = [str(Path(sys.executable).parent / "sagepipe"), "--home", str(home), "--port",
           str(free_port())]
    watcher = subprocess.Popen([*cli, "watch", "--interval", "1", "--auto-approve",
                                "--template", "pipeline.yaml"], cwd=repo,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        history = History(Store(home / "state.db"))

        def executions(count: int) -> list[dict]:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                done = [d for d in history.latest(5) if d["Status"] != "InProgress"]
                if len(done) >= count:
                    return done
                time.sleep(0.5)
            raise AssertionError(f"fewer than {count} executions finished")

        first = executions(1)[0]
        assert first["Trigger"] == "watch" and first["Status"] == "Succeeded"
        (repo / "ci" / "note.txt").write_text("a new commit\n")
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c",
                        "user.name=t", "commit", "-qm", "second"], check=True)
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
        second = executions(2)[0]
        assert second["Commit"] == head != first["Commit"]
        assert second["Status"] == "Succeeded"
    finally:
        watcher.terminate()
        watcher.wait(30)
        subprocess.run([*cli, "down"], capture_output=True)


def test_a_bug_in_an_action_is_one_line_on_the_console_and_its_traceback_in_the_log(
        local_aws, tmp_path, monkeypatch):
    def broken_build(run, action, config):
        return {"ratio": 1 / len(config["NoSuchList"])}

    monkeypatch.setitem(PROVIDERS, ("Build", "CodeBuild"), broken_build)
    console = io.StringIO()
    run = executor(local_aws, make_repo(tmp_path))
    run.console = Console(file=console, width=200)
    doc = run.run()
    assert doc["Status"] == "Failed"
    make = doc["Stages"][1]["Actions"][0]
    assert make["Error"].startswith("KeyError: 'NoSuchList' (traceback in ")
    assert "Traceback" not in console.getvalue()
    failed = [line for line in console.getvalue().splitlines() if "Make.Compile" in line]
    assert len(failed) == 1 and "KeyError: 'NoSuchList'" in failed[0]
    log = Path(make["Log"]).read_text()
    assert "Traceback (most recent call last)" in log and "in broken_build" in log
