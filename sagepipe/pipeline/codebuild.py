"""Local CodeBuild: runs a buildspec file (version 0.2) as CodeBuild does.

All commands of all phases run in one bash shell, so `cd` and `export` carry over; a failing
command fails its phase; INSTALL or PRE_BUILD failing skips to the end, BUILD failing still runs
POST_BUILD; `finally` blocks always run. `env.variables`, `env.exported-variables`,
`artifacts` (files, base-directory, discard-paths) and `reports` are honoured.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sagepipe.processes import spawn, terminate

PHASES = ("install", "pre_build", "build", "post_build")
UNSUPPORTED_ENV = ("parameter-store", "secrets-manager")


class BuildspecError(ValueError):
    """The buildspec cannot be run; the message says what to change."""


@dataclass
class BuildResult:
    succeeded: bool
    log_path: Path
    exported: dict[str, str] = field(default_factory=dict)
    reports: dict[str, list[Path]] = field(default_factory=dict)
    failed_phase: str | None = None


def load_buildspec(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BuildspecError(f"buildspec {path} does not exist")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise BuildspecError(f"buildspec {path} is not valid YAML: {exc}") from None
    if not isinstance(spec, dict) or str(spec.get("version")) != "0.2":
        raise BuildspecError(f"buildspec {path} must say `version: 0.2`")
    env = spec.get("env") or {}
    for key in UNSUPPORTED_ENV:
        if env.get(key):
            raise BuildspecError(f"buildspec {path} reads env.{key}, which the local AWS does not "
                                 "emulate; pass the value as an environment variable instead")
    unknown = set(spec.get("phases") or {}) - set(PHASES)
    if unknown:
        raise BuildspecError(f"buildspec {path} has unknown phases {sorted(unknown)}")
    return spec


def _commands(block: Any) -> list[str]:
    if not block:
        return []
    return [str(c) for c in block.get("commands", [])] if isinstance(block, dict) else []


def shell_script(spec: dict[str, Any], work: Path) -> str:
    """One bash script for the whole build; each command is sourced from its own file so that
    multi-line commands run as a unit and shell state persists between commands."""
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
        lines += [f"if {guard}; then", f"echo {name} > {shlex.quote(str(work / 'phase'))}",
                  f'echo "[Container] Entering phase {name}"', "__phase_ok=1"]
        for section, required in (("commands", True), ("finally", False)):
            for command in (_commands(block) if section == "commands" else
                            [str(c) for c in block.get("finally") or []]):
                count += 1
                path = work / f"command-{count:03d}.sh"
                path.write_text(command + "\n")
                shown = shlex.quote(command.splitlines()[0] if command else "")
                test = '[ "$__phase_ok" = 1 ] && ' if required else ""
                lines += [f'if {test}true; then echo "[Container] Running command "{shown}',
                          f". {shlex.quote(str(path))}; __rc=$?",
                          'if [ "$__rc" != 0 ]; then echo "[Container] Command did not exit '
                          'successfully "' + shown + '" exit status $__rc"; __phase_ok=0; fi',
                          "fi"]
        lines += [f'if [ "$__phase_ok" = 1 ]; then echo "[Container] Phase complete: {name} '
                  'State: SUCCEEDED"; else echo "[Container] Phase complete: '
                  f'{name} State: FAILED"; [ -n "$__failed_phase" ] || __failed_phase={name}; '
                  "fi", "fi"]
    lines += [f"env -0 > {shlex.quote(str(work / 'env'))}",
              f"printf %s \"$__failed_phase\" > {shlex.quote(str(work / 'failed'))}",
              '[ -z "$__failed_phase" ]']
    return "\n".join(lines) + "\n"


def run_build(buildspec: Path, source: Path, env: dict[str, str], work: Path,
              log_path: Path, timeout_s: float, artifacts_dir: Path | None) -> BuildResult:
    """Run `buildspec` in `source` with `env`; collect exported variables, reports, artifacts."""
    spec = load_buildspec(buildspec)
    work.mkdir(parents=True, exist_ok=True)
    script = work / "build.sh"
    script.write_text(shell_script(spec, work))
    variables = {k: str(v) for k, v in ((spec.get("env") or {}).get("variables") or {}).items()}
    full_env = {**env, **variables, "CODEBUILD_BUILD_SUCCEEDING": "1"}
    proc = spawn(["bash", str(script)], log_path, env=full_env, cwd=source)
    try:
        code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        terminate(proc, grace=0)
        with open(log_path, "ab") as log:
            log.write(f"\n[Container] Build timed out after {timeout_s:.0f}s\n".encode())
        return BuildResult(False, log_path, failed_phase=_read(work / "phase") or "BUILD")
    failed = _read(work / "failed") if (work / "failed").exists() else (
        _read(work / "phase") or "INSTALL")  # the shell exited early (an `exit` in a command)
    result = BuildResult(code == 0 and not failed, log_path, failed_phase=failed or None)
    result.exported = _exported(spec, work / "env")
    result.reports = _reports(spec, source)
    if result.succeeded and artifacts_dir is not None:
        _collect_artifacts(spec, source, artifacts_dir)
    return result


def _read(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


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


def _collect_artifacts(spec: dict[str, Any], source: Path, out: Path) -> None:
    conf = spec.get("artifacts")
    if not conf:
        raise BuildspecError("the action declares an output artifact but the buildspec has "
                             "no `artifacts` section")
    base = source / conf.get("base-directory", ".")
    files = _matches(base, [str(f) for f in conf.get("files") or []])
    if not files:
        raise BuildspecError(f"no artifact files matched {conf.get('files')} in {base}")
    for path in files:
        target = out / (path.name if conf.get("discard-paths") in (True, "yes") else
                        path.relative_to(base))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
