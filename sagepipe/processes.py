"""The child processes the local AWS runs (jobs, model servers, API hosts, builds, the gateway
itself): starting one and waiting until it is ready, stopping it the way SageMaker stops a
container (SIGTERM, then SIGKILL after a grace period), telling our processes from a reused pid,
ports, and the log tails that go into failure reasons. Written once here, used everywhere."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from sagepipe.config import HOST

Process = subprocess.Popen[bytes]
READY_POLL_SECONDS = 0.1


class NotReady(RuntimeError):
    """A started process did not become ready: it exited (`code`) or time ran out (None)."""

    def __init__(self, code: int | None, timeout: float) -> None:
        super().__init__(f"it {ended(code)}" if code is not None
                         else f"it was not ready within {timeout:.0f}s")
        self.code = code
        self.timeout = timeout


class Cancelled(Exception):
    """The wait for readiness was abandoned by whoever started the process."""


class Output(Protocol):
    """Where a process's output goes when it is not a plain file: a log stream
    (sagepipe.logs.streams.LogStream) reads it from the process's pipe."""

    def follow(self, proc: Process) -> None: ...


def spawn(argv: list[str], log: Path | Output, *, env: Mapping[str, str] | None = None,
          cwd: Path | None = None, pass_fds: Iterable[int] = ()) -> Process:
    """Start `argv` detached from our terminal, leading its own process group (so that stopping
    it stops its workers), stdin closed, stdout and stderr appended to the file `log`, or
    piped to the log stream `log`; it inherits the descriptors `pass_fds` besides."""
    options: dict[str, Any] = {"cwd": cwd, "env": env, "stderr": subprocess.STDOUT,
                               "stdin": subprocess.DEVNULL, "start_new_session": True,
                               "pass_fds": tuple(pass_fds)}
    if not isinstance(log, Path):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, **options)
        log.follow(proc)
        return proc
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdout=out, **options)


def wait_ready(proc: Process, ready: Callable[[], bool], timeout: float, *,
               cancelled: threading.Event | None = None) -> None:
    """Poll `ready()` until it is true. Raises NotReady if the process exits or `timeout`
    passes, Cancelled if `cancelled` is set; the caller decides what to stop."""
    deadline = time.monotonic() + timeout
    stop = cancelled or threading.Event()
    while not ready():
        if proc.poll() is not None:
            raise NotReady(proc.returncode, timeout)
        if time.monotonic() > deadline:
            raise NotReady(None, timeout)
        if stop.wait(READY_POLL_SECONDS):
            raise Cancelled


def start_and_wait(argv: list[str], log_path: Path, ready: Callable[[], bool], timeout: float,
                   *, grace: float, env: Mapping[str, str] | None = None,
                   cwd: Path | None = None) -> Process:
    """`spawn`, then `wait_ready`; a process that is not ready is stopped before NotReady."""
    proc = spawn(argv, log_path, env=env, cwd=cwd)
    try:
        wait_ready(proc, ready, timeout)
    except NotReady:
        terminate(proc, grace)
        raise
    return proc


# -- stopping --------------------------------------------------------------------------------
def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a process group that may already be gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def terminate(procs: Process | Iterable[Process], grace: float) -> None:
    """SIGTERM each process's group, wait up to `grace` seconds for all of them together,
    SIGKILL the groups still there, and reap them. Processes already ended are skipped."""
    running = [p for p in ([procs] if isinstance(procs, subprocess.Popen) else procs)
               if p.poll() is None]
    for proc in running:
        signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:  # it ignored SIGTERM
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait()


def stop_pid(pid: int, ticks: int, grace: float) -> bool:
    """TERM-then-KILL for a process that is not our child (the gateway `sagepipe down` stops),
    identified by pid and start ticks; returns once it is gone. False if it was not running."""
    if not alive(pid, ticks):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(pid, ticks):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")  # SIGKILL cannot be ignored: wait for the kernel
        time.sleep(0.05)
    return True


def kill_stale(processes: list[list[int]], timeout: float = 10) -> None:
    """Kill the process groups a crashed gateway left running ([pid, start ticks] pairs) and
    wait until they are gone, so that the ports they held are free again."""
    ours = [(pid, ticks) for pid, ticks in processes if start_ticks(pid) in (None, ticks)]
    for pid, _ticks in ours:  # a pid now belonging to another process is not ours to kill
        signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(alive(pid, ticks) for pid, ticks in ours) and time.monotonic() < deadline:
        time.sleep(0.05)


# -- identity --------------------------------------------------------------------------------
def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot): tells a live pid from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def alive(pid: int, ticks: int) -> bool:
    """Whether the process that started at `ticks` still runs as `pid` (not a zombie: our own
    children are reaped here, so that `sagepipe down` in the process that started the gateway
    sees it gone)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    if start_ticks(pid) != ticks:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace") \
            .split("\0")[:-1]
    except OSError:
        return []


# What a process the local AWS runs as if in a container of its own (a build, a job, a model
# server) keeps of the environment the local AWS was started in: where programs and the user's
# files are, the locale, and how this machine reaches package indexes (proxies, certificates,
# pip's settings), which an image would carry in its own configuration. The rest of the
# starting shell stays out, as a developer's shell stays out of CodeBuild and `docker run`: its
# AWS credentials and profile, PYTHONPATH, a virtualenv, PYTEST_ADDOPTS (which once made the
# pipeline's UnitTests delete the test folders of the suite that started the local AWS).
HOST_VARIABLES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"})
HOST_PREFIXES = ("LC_", "PIP_")


def host_environment() -> dict[str, str]:
    """This machine's part of a contained process's environment (HOST_VARIABLES)."""
    return {name: value for name, value in os.environ.items()
            if name in HOST_VARIABLES or name.startswith(HOST_PREFIXES)}


def ended(code: int) -> str:
    """A process's end from its Popen return code (negative: killed by that signal)."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


# -- ports -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    """Whether `port` can be bound on 127.0.0.1 now (TIME_WAIT leftovers do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def accepts_connections(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
        return True
    return False


def listener(port: int) -> tuple[int, list[str]] | None:
    """The process listening on TCP `port` (pid, command line), if /proc tells: the socket's
    inode from /proc/net/tcp{,6}, then the process holding it among /proc/*/fd."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return int(proc.name), command_line(int(proc.name))
    return None


# -- logs and failure reasons ----------------------------------------------------------------
def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log (read from its end, however long it grew)."""
    try:
        with open(path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 64 * 1024))
            text = log.read().decode(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def clip(text: str, limit: int) -> str:
    """Fit a failure reason into an API's length limit, keeping its start (what failed) and its
    end (the last log lines, where the cause usually is)."""
    if len(text) <= limit:
        return text
    marker = "\n...\n"
    head = min(400, (limit - len(marker)) // 2)
    return text[:head] + marker + text[-(limit - head - len(marker)):]
