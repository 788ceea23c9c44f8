"""The `sagepipe` pipeline commands that need no pipeline run: `remote` prints the local Git
remote alone on stdout (for `git remote add`), `launch-stack` the local Launch Stack (the
template in the local S3 and the create-stack that uses it), and `approve` says so when nothing
waits."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from testkit import REPO
from tiny_kit import Tiny, make_repo

SAGEPIPE = str(Path(sys.executable).parent / "sagepipe")


def sagepipe(settings, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SAGEPIPE, "--home", str(settings.home), "--port",
                           str(settings.port), *args], cwd=cwd, capture_output=True, text=True)


def test_remote_prints_the_url_alone_and_git_pushes_to_it(local_aws, aws, tmp_path):
    tiny = Tiny(local_aws, aws, stages=["Checkout", "Make"])
    done = sagepipe(local_aws, "remote", tiny.name)
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert done.stdout == f"{url}\n"
    assert url == str(local_aws.home / "git" / "me" / f"{tiny.name}.git")
    repo = make_repo(tmp_path)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "local", url], check=True)
    pushed = subprocess.run(["git", "-C", str(repo), "push", "local", "HEAD:main"],
                            capture_output=True, text=True, check=True)
    assert f"pipeline {tiny.name} started execution" in pushed.stderr
    assert tiny.wait(tiny.executions()[0]["pipelineExecutionId"])["status"] == "Succeeded"


def test_launch_stack_prints_the_create_stack_of_the_pipeline_stack(local_aws, aws):
    done = sagepipe(local_aws, "launch-stack")
    assert done.returncode == 0, done.stderr
    create, wait = done.stdout.strip().splitlines()
    words = shlex.split(create)
    assert words[:5] == ["aws", "--endpoint-url", local_aws.endpoint_url, "--region",
                         "us-east-1"]
    assert words[5:9] == ["cloudformation", "create-stack", "--stack-name",
                          "sagepipe-pipeline"]
    url = words[words.index("--template-url") + 1]
    assert url == ("https://cf-templates-000000000000-us-east-1.s3.amazonaws.com/"
                   "sagepipe-pipeline/pipeline.yaml")
    uploaded = aws("s3").get_object(Bucket="cf-templates-000000000000-us-east-1",
                                    Key="sagepipe-pipeline/pipeline.yaml")["Body"].read()
    assert uploaded == (REPO / "CodePipeline" / "pipeline.yaml").read_bytes()
    parameters = dict(w.removeprefix("ParameterKey=").split(",ParameterValue=")
                      for w in words if w.startswith("ParameterKey="))
    assert parameters["ProjectName"] == "sagepipe"
    connection = aws("codeconnections").get_connection(
        ConnectionArn=parameters["CodeConnectionArn"])["Connection"]
    assert connection["ConnectionStatus"] == "AVAILABLE"
    assert wait.endswith("cloudformation wait stack-create-complete --stack-name "
                         "sagepipe-pipeline")
    again = sagepipe(local_aws, "launch-stack")
    assert again.stdout == done.stdout  # the same connection, not a new one each time


def test_approve_says_when_nothing_waits(local_aws, aws):
    tiny = Tiny(local_aws, aws, stages=["Checkout", "Make"])
    done = sagepipe(local_aws, "approve", "--pipeline", tiny.name)
    assert done.returncode == 1
    assert f"no approval of pipeline {tiny.name} is waiting" in done.stderr
