"""The child processes the local AWS runs (jobs, model servers, API hosts, builds): ports, log
tails for failure reasons, and stopping a process group the way SageMaker stops a container."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path

from sagepipe.config import HOST


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot): tells a live pid from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a process group that may already be gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_stale(processes: list[list[int]]) -> None:
    """Kill the process groups a crashed gateway left running ([pid, start ticks] pairs)."""
    for pid, ticks in processes:
        if start_ticks(pid) not in (None, ticks):
            continue  # the pid now belongs to another process: its group is not ours
        signal_group(pid, signal.SIGKILL)


def terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after `grace` seconds."""
    if proc.poll() is not None:
        return
    signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        signal_group(proc.pid, signal.SIGKILL)
        proc.wait()


def ended(code: int) -> str:
    """A process's end from its Popen return code (negative: killed by that signal)."""
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log (read from its end, however long it grew)."""
    try:
        with open(path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 64 * 1024))
            text = log.read().decode(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"
