"""The local CodeBuild through boto3: projects, builds from an S3 zip that really run, their
phases, logs, exported variables and artifacts, StopBuild, and what it refuses."""

from __future__ import annotations

import io
import os
import time
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError
from testkit import client_for, free_port

from sagepipe.config import Settings
from sagepipe.server import start_background, stop

BUILDSPEC = """version: 0.2
env:
  variables: {GREETING: hello}
  exported-variables: [WHO, REVISION]
phases:
  build:
    commands:
      - ./tool.sh > out.txt
      - export WHO="$GREETING $NAME"
      - export REVISION="$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - test "$FAIL" != yes
artifacts:
  files: [out.txt]
"""


ENV_BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - env -0 > env.txt
artifacts:
  files: [env.txt]
"""


def source_zip(buildspec: str = BUILDSPEC) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zipped:
        zipped.writestr("buildspec.yml", buildspec)
        tool = zipfile.ZipInfo("tool.sh")
        tool.external_attr = 0o755 << 16  # the mode travels with the zip: it must stay runnable
        zipped.writestr(tool, "#!/bin/sh\necho built by tool\n")
    return data.getvalue()


def create_project(codebuild, s3, buildspec: str = BUILDSPEC) -> str:
    """A project building `buildspec` from an S3 zip into `<its bucket>/out.zip`."""
    name = f"cb-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="src.zip", Body=source_zip(buildspec),
                  Metadata={"source-revision": "0123abcd"})
    codebuild.create_project(
        name=name, source={"type": "S3", "location": f"{name}/src.zip"},
        artifacts={"type": "S3", "location": name, "name": "out.zip", "packaging": "ZIP"},
        environment={"type": "LINUX_CONTAINER", "computeType": "BUILD_GENERAL1_SMALL",
                     "image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
                     "environmentVariables": [{"name": "NAME", "value": "world"}]},
        serviceRole=f"arn:aws:iam::000000000000:role/{name}",
        logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": "/aws/codebuild/t",
                                       "streamName": "unit"}})
    return name


@pytest.fixture
def project(aws, s3) -> str:
    return create_project(aws("codebuild"), s3)


def wait(codebuild, build_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildComplete"]:
            return build
        time.sleep(0.2)
    raise AssertionError(f"build {build_id} did not complete")


def test_a_build_runs_the_buildspec_of_its_source_and_uploads_its_artifact(aws, s3, project):
    codebuild = aws("codebuild")
    started = codebuild.start_build(projectName=project)["build"]
    assert started["buildStatus"] == "IN_PROGRESS" and started["id"].startswith(f"{project}:")
    build = wait(codebuild, started["id"])
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    assert [p["phaseType"] for p in build["phases"]] == [
        "SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "BUILD", "UPLOAD_ARTIFACTS",
        "FINALIZING", "COMPLETED"]
    assert all(p["phaseStatus"] == "SUCCEEDED" for p in build["phases"][:-1])
    assert "phaseStatus" not in build["phases"][-1]
    assert build["resolvedSourceVersion"] == "0123abcd"
    assert {v["name"]: v["value"] for v in build["exportedEnvironmentVariables"]} == {
        "WHO": "hello world", "REVISION": "0123abcd"}
    assert build["artifacts"]["location"] == f"arn:aws:s3:::{project}/out.zip"
    artifact = zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=project, Key="out.zip")["Body"]
                                          .read()))
    assert artifact.read("out.txt") == b"built by tool\n"
    logs = build["logs"]
    assert logs["groupName"] == "/aws/codebuild/t"
    assert logs["streamName"] == f"unit/{build['id'].split(':')[1]}"
    events = aws("logs").get_log_events(logGroupName=logs["groupName"],
                                        logStreamName=logs["streamName"], startFromHead=True)
    messages = [e["message"] for e in events["events"]]
    assert "[Container] Running command ./tool.sh > out.txt" in messages
    assert "built by tool" not in messages  # its output went to out.txt, not the log
    assert build["buildNumber"] == 1
    assert codebuild.list_builds_for_project(projectName=project)["ids"] == [build["id"]]


def test_a_build_gets_the_projects_environment_not_the_shell_that_started_the_local_aws(
        tmp_path, monkeypatch):
    """CodeBuild never sees the developer's shell: what the shell that started the local AWS
    set stays out of its builds (a PYTEST_ADDOPTS there once made the pipeline's UnitTests
    delete the folders of the test suite that started it); the machine's PATH and HOME, the
    project's variables and CodeBuild's own are in."""
    shell_only = {"PYTEST_ADDOPTS": "--basetemp=/nowhere", "PYTHONPATH": "/shell/only",
                  "VIRTUAL_ENV": "/shell/venv", "DEPLOY_TOKEN": "a secret of the shell"}
    for name, value in shell_only.items():
        monkeypatch.setenv(name, value)
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    try:
        s3, codebuild = client_for(settings, "s3"), client_for(settings, "codebuild")
        name = create_project(codebuild, s3, ENV_BUILDSPEC)
        build = wait(codebuild, codebuild.start_build(projectName=name)["build"]["id"])
        archive = s3.get_object(Bucket=name, Key="out.zip")["Body"].read()
    finally:
        stop(settings)
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    listed = zipfile.ZipFile(io.BytesIO(archive)).read("env.txt").decode().split("\0")
    seen = dict(entry.split("=", 1) for entry in listed if entry)
    assert not shell_only.keys() & seen.keys()
    assert seen["NAME"] == "world" and seen["CODEBUILD_BUILD_ID"] == build["id"]
    assert seen["AWS_ENDPOINT_URL"] == settings.endpoint_url
    assert seen["HOME"] == os.environ["HOME"]
    assert set(os.environ["PATH"].split(os.pathsep)) <= set(seen["PATH"].split(os.pathsep))


def test_a_failing_command_fails_its_phase_with_codebuilds_reason(aws, project):
    codebuild = aws("codebuild")
    build = wait(codebuild, codebuild.start_build(
        projectName=project,
        environmentVariablesOverride=[{"name": "FAIL", "value": "yes", "type": "PLAINTEXT"}],
    )["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    failed = next(p for p in build["phases"] if p.get("phaseStatus") == "FAILED")
    assert failed["phaseType"] == "BUILD"
    assert failed["contexts"] == [{"statusCode": "COMMAND_EXECUTION_ERROR", "message":
                                   'Error while executing command: test "$FAIL" != yes. '
                                   "Reason: exit status 1"}]
    assert "UPLOAD_ARTIFACTS" not in [p["phaseType"] for p in build["phases"]]


def test_stop_build_ends_it_stopped(aws, project):
    codebuild = aws("codebuild")
    build_id = codebuild.start_build(
        projectName=project, sourceTypeOverride="NO_SOURCE",
        buildspecOverride="version: 0.2\nphases:\n  build:\n    commands: [sleep 60]\n",
    )["build"]["id"]
    deadline = time.monotonic() + 30
    while codebuild.batch_get_builds(ids=[build_id])["builds"][0]["currentPhase"] != "BUILD":
        assert time.monotonic() < deadline, "the build never reached BUILD"
        time.sleep(0.1)
    codebuild.stop_build(id=build_id)
    build = wait(codebuild, build_id)
    assert build["buildStatus"] == "STOPPED"
    assert next(p for p in build["phases"] if p["phaseType"] == "BUILD")["phaseStatus"] == \
        "STOPPED"


def test_a_buildspec_that_cannot_run_fails_download_source_as_a_yaml_error(aws, project):
    codebuild = aws("codebuild")
    build = wait(codebuild, codebuild.start_build(
        projectName=project, buildspecOverride="no/such/buildspec.yml")["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    failed = next(p for p in build["phases"] if p.get("phaseStatus") == "FAILED")
    assert failed["phaseType"] == "DOWNLOAD_SOURCE"
    assert failed["contexts"][0]["statusCode"] == "YAML_FILE_ERROR"
    assert "does not exist" in failed["contexts"][0]["message"]


@pytest.mark.parametrize("overrides, message", [
    ({"sourceTypeOverride": "GITHUB"}, "Source type GITHUB is not emulated"),
    ({"sourceTypeOverride": "NO_SOURCE"}, "inline buildspec"),
    ({"sourceLocationOverride": "just-a-bucket"}, "bucket/key"),
])
def test_builds_it_cannot_run_are_refused_at_start(aws, project, overrides, message):
    with pytest.raises(ClientError) as caught:
        aws("codebuild").start_build(projectName=project, **overrides)
    assert caught.value.response["Error"]["Code"] == "InvalidInputException"
    assert message in caught.value.response["Error"]["Message"]


def test_projects_crud_and_a_pipeline_project_is_built_by_its_pipeline(aws):
    codebuild = aws("codebuild")
    name = f"cp-{uuid.uuid4().hex[:8]}"
    spec = {"source": {"type": "CODEPIPELINE", "buildspec": "ci/build.yml"},
            "artifacts": {"type": "CODEPIPELINE"},
            "environment": {"type": "LINUX_CONTAINER", "computeType": "BUILD_GENERAL1_SMALL",
                            "image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0"},
            "serviceRole": "arn:aws:iam::000000000000:role/r"}
    created = codebuild.create_project(name=name, **spec)["project"]
    assert created["arn"] == f"arn:aws:codebuild:us-east-1:000000000000:project/{name}"
    with pytest.raises(codebuild.exceptions.ResourceAlreadyExistsException):
        codebuild.create_project(name=name, **spec)
    with pytest.raises(ClientError, match="takes its source from CodePipeline"):
        codebuild.start_build(projectName=name)
    codebuild.update_project(name=name, timeoutInMinutes=5)
    got = codebuild.batch_get_projects(names=[created["arn"], "nope"])
    assert [p["timeoutInMinutes"] for p in got["projects"]] == [5]
    assert got["projectsNotFound"] == ["nope"]
    assert name in codebuild.list_projects()["projects"]
    codebuild.delete_project(name=name)
    codebuild.delete_project(name=name)  # idempotent, as in AWS
    assert codebuild.batch_get_projects(names=[name])["projectsNotFound"] == [name]
    with pytest.raises(codebuild.exceptions.ResourceNotFoundException):
        codebuild.start_build(projectName=name)
    with pytest.raises(ClientError, match="CODEPIPELINE"):
        codebuild.create_project(name=name, **{**spec, "artifacts": {"type": "NO_ARTIFACTS"}})
