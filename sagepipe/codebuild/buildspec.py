"""Runs a buildspec (version 0.2) as CodeBuild does.

All commands of all phases run in one bash shell, so `cd` and `export` carry over; a failing
command fails its phase; INSTALL or PRE_BUILD failing skips to the end, BUILD failing still runs
POST_BUILD (with CODEBUILD_BUILD_SUCCEEDING=0); `finally` blocks always run. `env.variables`,
`env.exported-variables`, `artifacts` (files, base-directory, discard-paths) and `reports` are
honoured. The shell writes each phase's start, end and failing command to a file as it goes, so
that the build's phases (BatchGetBuilds) are known while it runs.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sagepipe.logs.streams import LogStream
from sagepipe.processes import spawn, start_ticks, terminate

PHASES = ("install", "pre_build", "build", "post_build")
UNSUPPORTED_ENV = ("parameter-store", "secrets-manager")
POLL_SECONDS = 0.25


class BuildspecError(ValueError):
    """The buildspec cannot be run; the message says what to change."""


@dataclass
class Phase:
    """One buildspec phase as it ran: CodeBuild's BuildPhase, plus the command that failed."""

    name: str  # INSTALL, PRE_BUILD, BUILD, POST_BUILD
    start: float
    end: float | None = None
    succeeded: bool = True
    failure: str | None = None  # "Error while executing command: ... Reason: exit status N"


@dataclass
class BuildResult:
    status: str  # CodeBuild's: SUCCEEDED, FAILED, TIMED_OUT, STOPPED
    phases: list[Phase]
    exported: dict[str, str] = field(default_factory=dict)
    reports: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def failed_phase(self) -> Phase | None:
        return next((p for p in self.phases if not p.succeeded), None)


def parse_buildspec(text: str, origin: str) -> dict[str, Any]:
    """A buildspec from its YAML text (`origin` names it in errors), checked for what the local
    CodeBuild runs."""
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BuildspecError(f"buildspec {origin} is not valid YAML: {exc}") from None
    if not isinstance(spec, dict) or str(spec.get("version")) != "0.2":
        raise BuildspecError(f"buildspec {origin} must say `version: 0.2`")
    env = spec.get("env") or {}
    for key in UNSUPPORTED_ENV:
        if env.get(key):
            raise BuildspecError(f"buildspec {origin} reads env.{key}, which the local AWS does "
                                 "not emulate; pass the value as an environment variable instead")
    unknown = set(spec.get("phases") or {}) - set(PHASES)
    if unknown:
        raise BuildspecError(f"buildspec {origin} has unknown phases {sorted(unknown)}")
    return spec


def load_buildspec(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BuildspecError(f"buildspec {path} does not exist")
    return parse_buildspec(path.read_text(), str(path))


def _commands(block: Any, section: str) -> list[str]:
    if not isinstance(block, dict):
        return []
    return [str(c) for c in block.get(section) or []]


def shell_script(spec: dict[str, Any], work: Path) -> str:
    """One bash script for the whole build; each command is sourced from its own file so that
    multi-line commands run as a unit and shell state persists between commands. Phase events
    go to `work/phases`: `START <PHASE> <epoch>`, `RUN <PHASE> <command index>`,
    `FAIL <PHASE> <command index> <status>`, `END <PHASE> <epoch>`."""
    events = shlex.quote(str(work / "phases"))
    lines = ["__failed_phase=''"]
    count = 0
    for phase in PHASES:
        block = (spec.get("phases") or {}).get(phase)
        if not block:
            continue
        # POST_BUILD still runs after BUILD failed; nothing runs after INSTALL/PRE_BUILD failed.
        guard = ('[ -z "$__failed_phase" ] || [ "$__failed_phase" = BUILD ]'
                 if phase == "post_build" else '[ -z "$__failed_phase" ]')
        name = phase.upper()
        lines += [f"if {guard}; then", f'echo "START {name} $(date +%s.%N)" >> {events}',
                  f'echo "[Container] Entering phase {name}"', "__phase_ok=1"]
        for section, required in (("commands", True), ("finally", False)):
            for command in _commands(block, section):
                count += 1
                path = work / f"command-{count:03d}.sh"
                path.write_text(command + "\n")
                shown = shlex.quote(command.splitlines()[0] if command else "")
                test = '[ "$__phase_ok" = 1 ] && ' if required else ""
                lines += [f'if {test}true; then echo "[Container] Running command "{shown}',
                          f'echo "RUN {name} {count}" >> {events}',
                          f". {shlex.quote(str(path))}; __rc=$?",
                          'if [ "$__rc" != 0 ]; then echo "[Container] Command did not exit '
                          'successfully "' + shown + '" exit status $__rc"; '
                          f'[ "$__phase_ok" = 0 ] || echo "FAIL {name} {count} $__rc" >> '
                          f"{events}; __phase_ok=0; fi",
                          "fi"]
        lines += [f'echo "END {name} $(date +%s.%N)" >> {events}',
                  f'if [ "$__phase_ok" = 1 ]; then echo "[Container] Phase complete: {name} '
                  'State: SUCCEEDED"; else echo "[Container] Phase complete: '
                  f'{name} State: FAILED"; [ -n "$__failed_phase" ] || __failed_phase={name}; '
                  "export CODEBUILD_BUILD_SUCCEEDING=0; fi", "fi"]
    lines += [f"env -0 > {shlex.quote(str(work / 'env'))}", '[ -z "$__failed_phase" ]']
    return "\n".join(lines) + "\n"


def read_phases(work: Path, exit_status: int | None = None) -> list[Phase]:
    """The phases the shell has started so far, from its event file. `exit_status`: the
    shell's, when it exited in the middle of a phase (an `exit` in a command)."""
    phases: list[Phase] = []
    path = work / "phases"
    if not path.exists():
        return phases
    running = ""
    for line in path.read_text().splitlines():
        kind, name, *rest = line.split()
        if kind == "START":
            phases.append(Phase(name, float(rest[0])))
        elif kind == "END" and phases:
            phases[-1].end = float(rest[0])
        elif kind == "RUN":
            running = rest[0]
        elif kind == "FAIL" and phases:
            phases[-1].succeeded = False
            phases[-1].failure = _failure(work, *rest)
    if exit_status is not None and phases and phases[-1].end is None:
        phases[-1].succeeded = False
        phases[-1].failure = _failure(work, running, str(exit_status)) if running else \
            f"the build's shell exited with status {exit_status}"
    return phases


def _failure(work: Path, index: str, status: str) -> str:
    """CodeBuild's message for a failed command."""
    command = (work / f"command-{int(index):03d}.sh").read_text().strip()
    return f"Error while executing command: {command}. Reason: exit status {status}"


def run_build(spec: dict[str, Any], source: Path, env: dict[str, str], work: Path,
              log: LogStream, timeout_s: float, *, cancel: threading.Event | None = None,
              on_phase: Callable[[list[Phase]], None] | None = None) -> BuildResult:
    """Run the buildspec `spec` in `source` with `env`; collect exported variables and reports.
    `cancel` stops it (StopBuild); `on_phase` is told the phases each time one starts or ends.
    The shell's output goes to the build's CloudWatch log stream `log`, a line an event.
    The shell's pid and start time are in `work/process.json` while it runs, for a gateway
    that restarts after a crash to end it."""
    work.mkdir(parents=True, exist_ok=True)
    script = work / "build.sh"
    script.write_text(shell_script(spec, work))
    variables = {k: str(v) for k, v in ((spec.get("env") or {}).get("variables") or {}).items()}
    full_env = {**env, **variables, "CODEBUILD_BUILD_SUCCEEDING": "1"}
    proc = spawn(["bash", str(script)], log, env=full_env, cwd=source)
    (work / "process.json").write_text(json.dumps([proc.pid, start_ticks(proc.pid)]))
    status = _wait(proc, timeout_s, cancel or threading.Event(), work, on_phase)
    log.settle()
    if status != "SUCCEEDED":
        log.write(f"[Container] Build {status.lower().replace('_', ' ')}")
        phases = read_phases(work)
        if phases and phases[-1].end is None:
            phases[-1].succeeded = False
    else:
        phases = read_phases(work, proc.returncode)
        if proc.returncode != 0 or not all(p.succeeded for p in phases):
            status = "FAILED"
        if phases and phases[-1].end is None:  # the shell exited in a command (`exit N`)
            log.write(f"[Container] Command did not exit successfully: {phases[-1].failure}")
            log.write(f"[Container] Phase complete: {phases[-1].name} State: FAILED")
    result = BuildResult(status, phases)
    result.exported = _exported(spec, work / "env")
    result.reports = _reports(spec, source)
    (work / "process.json").unlink(missing_ok=True)
    return result


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, cancel: threading.Event,
          work: Path, on_phase: Callable[[list[Phase]], None] | None) -> str:
    """Wait for the build's shell; SUCCEEDED means only that it ran to its end in time."""
    events, seen = work / "phases", -1
    waited = 0.0
    while True:
        try:
            proc.wait(timeout=POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            waited += POLL_SECONDS
        if on_phase is not None and events.exists() and events.stat().st_size != seen:
            seen = events.stat().st_size
            on_phase(read_phases(work))
        if cancel.is_set() or waited >= timeout_s:
            terminate(proc, grace=5)
            return "STOPPED" if cancel.is_set() else "TIMED_OUT"
    return "SUCCEEDED"


def _exported(spec: dict[str, Any], env_dump: Path) -> dict[str, str]:
    names = (spec.get("env") or {}).get("exported-variables") or []
    if not env_dump.exists():
        return {}
    values = dict(item.split("=", 1) for item in env_dump.read_bytes().decode(
        errors="replace").split("\0") if "=" in item)
    return {name: values.get(name, "") for name in names}


def _matches(base: Path, patterns: list[str]) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        found += [p for p in base.glob(pattern) if p.is_file()]
    return sorted(set(found))


def _reports(spec: dict[str, Any], source: Path) -> dict[str, list[Path]]:
    reports = {}
    for group, conf in (spec.get("reports") or {}).items():
        base = source / conf.get("base-directory", ".")
        reports[group] = _matches(base, conf.get("files") or [])
    return reports


def collect_artifacts(spec: dict[str, Any], source: Path, out: Path) -> None:
    """The buildspec's `artifacts` files, copied from `source` into `out`."""
    conf = spec.get("artifacts")
    if not conf:
        raise BuildspecError("the build has an output artifact but the buildspec has no "
                             "`artifacts` section")
    base = source / conf.get("base-directory", ".")
    files = _matches(base, [str(f) for f in conf.get("files") or []])
    if not files:
        raise BuildspecError(f"no artifact files matched {conf.get('files')} in {base}")
    for path in files:
        target = out / (path.name if conf.get("discard-paths") in (True, "yes") else
                        path.relative_to(base))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
