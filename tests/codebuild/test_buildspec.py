"""The local CodeBuild runs buildspec files with CodeBuild's phase semantics."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sagepipe.codebuild.buildspec import (
    BuildspecError,
    collect_artifacts,
    load_buildspec,
    run_build,
)
from sagepipe.config import Settings
from sagepipe.logs.streams import open_stream


class Log:
    """The build's log stream, and its text."""

    def __init__(self, tmp_path: Path) -> None:
        self.stream = open_stream(Settings(home=tmp_path / "home"), "/aws/codebuild/t", "s")

    def read_text(self) -> str:
        return "\n".join(event.message for event in self.stream.events())


def build(tmp_path: Path, spec: str, artifacts: bool = False):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "buildspec.yml").write_text(spec)
    loaded = load_buildspec(src / "buildspec.yml")
    log = Log(tmp_path)
    result = run_build(loaded, src, dict(os.environ), tmp_path / "work", log.stream, 60)
    out = tmp_path / "out" if artifacts else None
    if out is not None and result.succeeded:
        collect_artifacts(loaded, src, out)
    return result, log, out


def test_shell_state_carries_across_commands_and_phases(tmp_path):
    result, log, _ = build(tmp_path, """version: 0.2
env:
  variables: {GREETING: hello}
  exported-variables: [RESULT, GREETING]
phases:
  install:
    commands:
      - mkdir -p sub && cd sub
      - export RESULT="$GREETING from $(basename $PWD)"
  build:
    commands:
      - |
        echo multi-line
        echo block
""")
    assert result.succeeded, log.read_text()
    assert [(p.name, p.succeeded) for p in result.phases] == [("INSTALL", True), ("BUILD", True)]
    assert all(p.start <= p.end for p in result.phases)
    assert result.exported == {"RESULT": "hello from sub", "GREETING": "hello"}
    assert "multi-line\nblock" in log.read_text()


def test_failed_build_phase_still_runs_post_build_and_finally(tmp_path):
    result, log, _ = build(tmp_path, """version: 0.2
phases:
  build:
    commands:
      - echo before
      - "false"
      - echo never-printed
    finally:
      - echo finally-ran
  post_build:
    commands:
      - echo post-build-ran
""")
    text = log.read_text()
    assert not result.succeeded and result.failed_phase.name == "BUILD"
    assert result.failed_phase.failure == ("Error while executing command: false. Reason: exit "
                                           "status 1")
    assert [(p.name, p.succeeded) for p in result.phases] == [("BUILD", False),
                                                              ("POST_BUILD", True)]
    assert "never-printed" not in text
    assert "finally-ran" in text and "post-build-ran" in text
    assert "Command did not exit successfully" in text


def test_failed_install_skips_the_rest(tmp_path):
    result, log, _ = build(tmp_path, """version: 0.2
phases:
  install:
    commands: ["exit 3"]
  build:
    commands: [echo build-ran]
  post_build:
    commands: [echo post-ran]
""")
    assert not result.succeeded
    assert result.failed_phase.name == "INSTALL"
    assert result.failed_phase.failure == ("Error while executing command: exit 3. Reason: exit "
                                           "status 3")
    assert [p.name for p in result.phases] == ["INSTALL"]
    assert "build-ran" not in log.read_text() and "post-ran" not in log.read_text()


def test_artifacts_and_reports_are_collected(tmp_path):
    result, _, out = build(tmp_path, """version: 0.2
phases:
  build:
    commands:
      - mkdir -p dist/deep reports && echo a > dist/a.json && echo b > dist/deep/b.json
      - echo '<testsuite/>' > reports/unit.xml
artifacts:
  base-directory: dist
  files: ['**/*']
reports:
  unit:
    files: [unit.xml]
    base-directory: reports
""", artifacts=True)
    assert result.succeeded
    assert (out / "a.json").read_text() == "a\n"
    assert (out / "deep" / "b.json").read_text() == "b\n"
    assert [p.name for p in result.reports["unit"]] == ["unit.xml"]


@pytest.mark.parametrize("spec, message", [
    ("version: 0.1\nphases: {}\n", "version: 0.2"),
    ("version: 0.2\nenv:\n  secrets-manager: {X: y}\nphases: {}\n", "secrets-manager"),
    ("version: 0.2\nphases:\n  deploy: {commands: [ls]}\n", "unknown phases"),
    ("version: [0.2\n", "not valid YAML"),
])
def test_unrunnable_buildspecs_are_refused_with_the_reason(tmp_path, spec, message):
    with pytest.raises(BuildspecError, match=message):
        build(tmp_path, spec)


def test_post_build_sees_that_the_build_failed(tmp_path):
    result, log, _ = build(tmp_path, """version: 0.2
phases:
  build:
    commands: ["false"]
  post_build:
    commands: ['echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"']
""")
    assert not result.succeeded
    assert "succeeding=0" in log.read_text()


def test_a_stopped_build_ends_its_shell_and_says_so(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    spec = {"version": 0.2, "phases": {"build": {"commands": ["echo started", "sleep 60"]}}}
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    log = Log(tmp_path)
    result = run_build(spec, src, dict(os.environ), tmp_path / "work", log.stream, 60,
                       cancel=cancel)
    assert result.status == "STOPPED"
    assert [(p.name, p.succeeded) for p in result.phases] == [("BUILD", False)]
    assert not (tmp_path / "work" / "process.json").exists()
    assert "started" in log.read_text() and "[Container] Build stopped" in log.read_text()
