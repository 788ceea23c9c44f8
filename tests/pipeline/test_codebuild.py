"""The local CodeBuild runs buildspec files with CodeBuild's phase semantics."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sagepipe.pipeline.codebuild import BuildspecError, run_build


def build(tmp_path: Path, spec: str, artifacts: bool = False):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "buildspec.yml").write_text(spec)
    out = tmp_path / "out" if artifacts else None
    return run_build(src / "buildspec.yml", src, dict(os.environ), tmp_path / "work",
                     tmp_path / "build.log", 60, out), tmp_path / "build.log", out


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
    assert not result.succeeded and result.failed_phase == "BUILD"
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
    assert result.failed_phase == "INSTALL"
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
