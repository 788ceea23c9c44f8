"""The one Lambda runtime of the local AWS: sandboxes (worker processes) that run functions'
code, isolated from the local AWS's own process, kept warm between invocations.

A sandbox is `python -m sagepipe.awslambda.bootstrap` (its own process group, the function's
environment, cwd its unpacked code) connected back over a private Unix socket. It imports the
handler once (the cold start: process start + import, reported as Init Duration) and then
answers invocations one at a time. Each function version has a pool of sandboxes: an idle one
is reused (warm), another is started while all are busy, up to MAX_SANDBOXES; beyond that an
invocation waits for one, up to the function's timeout, then is throttled. A sandbox idle for
IDLE_SECONDS, or running an older revision of the configuration, is stopped.

What a sandbox prints is its log: read from its output file while it runs and written as
events of its CloudWatch Logs stream (sagepipe.logs.streams.lambda_stream: `/aws/lambda/<name>`,
`YYYY/MM/DD/[$LATEST]<hex>`, one per sandbox), between the START, END and REPORT lines AWS
writes. The output goes through a file the invocation drains, not a pipe the stream follows
on its own: so that a handler's lines land between its invocation's START and END, and the
invocation knows its own lines (LogType=Tail).

A handler that hangs past the timeout, exits or crashes ends only its own sandbox: the
invocation answers AWS's error (`Sandbox.Timedout`, `Runtime.ExitError`) and the next one
starts a fresh sandbox.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import math
import os
import platform
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sagepipe.awslambda.bootstrap import receive, send
from sagepipe.awslambda.exceptions import ServiceException, TooManyRequestsException
from sagepipe.config import Settings
from sagepipe.logs.streams import lambda_stream
from sagepipe.processes import Process, spawn, terminate

log = logging.getLogger(__name__)

MAX_SANDBOXES = 4  # per function version: the machine is shared
IDLE_SECONDS = 600.0  # AWS keeps an idle sandbox for minutes too
INIT_SECONDS = 10.0  # Lambda's limit on the init phase (process start + handler import)
TICK = 0.1  # how often a running invocation's output is copied to its log stream
FRAME_SECONDS = 60.0  # to read a frame once it has begun to arrive
STOP_GRACE = 1.0
TAIL_BYTES = 4096  # LogType=Tail: the last 4 KB of the invocation's log
THROTTLED = "ReservedFunctionConcurrentInvocationLimitExceeded"


@dataclass(frozen=True)
class FunctionSpec:
    """What a sandbox runs: one version of a function's configuration."""

    name: str
    version: str  # $LATEST or a published version number
    handler: str
    runtime: str
    timeout: int
    memory: int
    environment: Mapping[str, str]
    code: str  # the package's sha256 (hex)
    task_root: Path
    log_group: str
    revision: str  # RevisionId: a sandbox of another revision is not reused


@dataclass
class Invocation:
    """What one invocation answered: the payload, AWS's FunctionError, and its log."""

    request_id: str
    payload: bytes
    function_error: str | None = None
    log_lines: list[str] = field(default_factory=list)

    @property
    def log_result(self) -> str:
        """X-Amz-Log-Result: the base64 of the log's last 4 KB."""
        text = "".join(line + "\n" for line in self.log_lines).encode()
        return base64.b64encode(text[-TAIL_BYTES:]).decode()


def runtime_error(error_type: str, request_id: str, message: str) -> dict[str, str]:
    """The payload Lambda itself answers when the sandbox failed (not the handler)."""
    return {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}


def exit_message(code: int) -> str:
    """How Lambda says the runtime process ended (`signal: killed`, `exit status 1`)."""
    if code == 0:
        return "Runtime exited without providing a reason"
    if code < 0:
        name = signal.strsignal(-code) or f"signal {-code}"
        return f"Runtime exited with error: signal: {name.lower()}"
    return f"Runtime exited with error: exit status {code}"


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def peak_memory_mb(pid: int) -> int:
    """The process's peak resident memory (VmHWM), what REPORT calls Max Memory Used."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
    return 0


@dataclass(frozen=True)
class Places:
    """Where sandboxes live: the home (its log groups), output files, per-function temporary
    directories, and a private directory for their sockets."""

    settings: Settings
    sandboxes: Path
    tmp: Path
    sockets: Path


class SandboxEnded(Exception):
    """The sandbox's process ended or its time ran out; the invocation's error payload."""

    def __init__(self, payload: dict[str, str], log_line: str) -> None:
        super().__init__(payload["errorMessage"])
        self.payload = payload
        self.log_line = log_line


class Sandbox:
    """One worker process running one function version's code."""

    def __init__(self, spec: FunctionSpec, places: Places) -> None:
        self.spec = spec
        self.id = uuid.uuid4().hex
        self.stream = lambda_stream(places.settings, spec.name, spec.version, spec.log_group)
        self.places = places
        self.output = places.sandboxes / f"{self.id}.out"
        self.proc: Process | None = None
        self.sock: socket.socket | None = None
        self.init_ms: float | None = None  # reported once, on the first (cold) invocation
        self.peak_mb = 0
        self.last_used = time.monotonic()
        self._reader: BinaryIO | None = None
        self._partial = b""
        self._lines: list[str] = []  # the current invocation's log
        self._request_id = ""  # the current invocation's

    # -- the log ------------------------------------------------------------------------------
    def _log(self, message: str) -> None:
        self.stream.write(message)
        self._lines.append(message)

    def _drain(self, final: bool = False) -> None:
        """Copy what the process printed since the last call into the log stream, one event
        per line (a `\\r` inside a line, as in the runtime's error traces, is a line break of
        the same event); `final`: a last line without its newline too."""
        if self._reader is None:
            return
        if self.proc is not None:  # VmHWM only grows: the last reading is the peak
            self.peak_mb = peak_memory_mb(self.proc.pid) or self.peak_mb
        *lines, self._partial = (self._partial + self._reader.read()).split(b"\n")
        if final and self._partial:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._log(line.decode(errors="replace").replace("\r", "\n"))

    # -- process ------------------------------------------------------------------------------
    def _environment(self, base: Mapping[str, str]) -> dict[str, str]:
        spec = self.spec
        tmp = self.places.tmp / spec.name
        tmp.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TZ": ":UTC",
            "TMPDIR": str(tmp),
            "PYTHONUNBUFFERED": "1",  # the log shows output as it is printed
            "PYTHONDONTWRITEBYTECODE": "1",  # the code directory is read-only in AWS
            **spec.environment,
            **base,  # the local AWS's endpoint, credentials and region
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.stream.name,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.task_root),
            "LAMBDA_RUNTIME_DIR": str(Path(__file__).parent),
            "_HANDLER": spec.handler,
        }

    def start(self, base_env: Mapping[str, str]) -> dict[str, Any] | None:
        """Start the process and wait until the handler is imported: None, or the init error
        payload (the sandbox is then unusable)."""
        started = time.monotonic()
        address = str(self.places.sockets / f"{self.id[:16]}.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(address)
            listener.listen(1)
            listener.settimeout(TICK)
            self._log(f"INIT_START Runtime Version: {self.spec.runtime} (run by this machine's "
                      f"Python {platform.python_version()})")
            try:
                self.proc = spawn([sys.executable, "-m", "sagepipe.awslambda.bootstrap", address],
                                  self.output, env=self._environment(base_env),
                                  cwd=self.spec.task_root)
            except OSError as exc:
                raise ServiceException(f"the local Lambda could not start a sandbox: {exc}") \
                    from None
            self._reader = open(self.output, "rb")  # noqa: SIM115
            self.sock = self._accept(listener, started + INIT_SECONDS)
        finally:
            listener.close()
            with contextlib.suppress(OSError):
                os.unlink(address)
        header, _ = self._await_frame(started + INIT_SECONDS, "init")
        self.init_ms = (time.monotonic() - started) * 1000
        if header.get("error"):
            status = f"Status: error\tError Type: {header['error']['errorType']}"
            self._log(f"INIT_REPORT Init Duration: {self.init_ms:.2f} ms\tPhase: init\t{status}")
            return dict(header["error"])
        return None

    def _accept(self, listener: socket.socket, deadline: float) -> socket.socket:
        while True:
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                self._check_running(deadline, "init")
                continue
            sock.settimeout(FRAME_SECONDS)
            return sock

    def _check_running(self, deadline: float, phase: str) -> None:
        """SandboxEnded if the process has exited or time is up (the process is then killed)."""
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            message = exit_message(code)
            raise SandboxEnded(runtime_error("Runtime.ExitError", self._request_id, message),
                               f"RequestId: {self._request_id} Error: {message}")
        if time.monotonic() > deadline:
            limit = INIT_SECONDS if phase == "init" else self.spec.timeout
            self.kill()
            text = f"Task timed out after {limit:.2f} seconds"
            raise SandboxEnded(runtime_error("Sandbox.Timedout", self._request_id, text),
                               f"{iso_now()} {self._request_id} {text}")

    def _await_frame(self, deadline: float, phase: str) -> tuple[dict[str, Any], bytes]:
        """The sandbox's next answer, copying its output to the log while waiting."""
        assert self.sock is not None
        waiting = select.poll()  # not select(): the gateway may hold more than 1024 files
        waiting.register(self.sock, select.POLLIN)
        while True:
            self._drain()
            self._check_running(deadline, phase)
            if waiting.poll(TICK * 1000):
                try:
                    frame = receive(self.sock)
                except OSError:  # a frame begun and never finished
                    frame = None
                if frame is not None:
                    self._drain()  # it flushed its output before answering
                    return frame
                self._wait_exit()
                self._check_running(deadline, phase)

    def _wait_exit(self) -> None:
        """The other end closed: the process is ending; give it a moment to be reaped."""
        assert self.proc is not None
        with contextlib.suppress(Exception):
            self.proc.wait(STOP_GRACE)
        if self.proc.poll() is None:  # closed its socket but lives on: end it
            self.kill()

    # -- invocations --------------------------------------------------------------------------
    def run(self, request: Mapping[str, Any], payload: bytes,
            base_env: Mapping[str, str]) -> tuple[Invocation, bool]:
        """One invocation, starting the process first if need be: (what it answered, whether
        the sandbox can be reused)."""
        self._request_id = request["requestId"]
        self._lines = []
        cold = self.proc is None
        failure: dict[str, Any] | None = None  # the error payload when the sandbox failed
        init_error: dict[str, Any] | None = None
        if cold:
            try:
                init_error = self.start(base_env)
            except SandboxEnded as ended_:
                failure = self._ended(ended_)
        begun = time.monotonic()
        self._log(f"START RequestId: {self._request_id} Version: {self.spec.version}")
        if init_error is None and failure is None:
            try:
                header, body = self._exchange(request, payload, begun + self.spec.timeout)
            except SandboxEnded as ended_:
                failure = self._ended(ended_)
            else:
                answer = Invocation(self._request_id, body,
                                    "Unhandled" if header["type"] == "error" else None)
        error = init_error or failure
        if error is not None:
            answer = Invocation(self._request_id, json.dumps(error).encode(), "Unhandled")
        self._drain(final=True)
        self._finish(answer, begun, cold, init_error)
        self.last_used = time.monotonic()
        return answer, error is None

    def _exchange(self, request: Mapping[str, Any], payload: bytes,
                  deadline: float) -> tuple[dict[str, Any], bytes]:
        assert self.sock is not None
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        try:
            send(self.sock, {**request, "deadlineMs": int(time.time() * 1000) + remaining_ms},
                 payload)
        except OSError:  # it died while idle
            self._wait_exit()
        return self._await_frame(deadline, "invoke")

    def _ended(self, ended_: SandboxEnded) -> dict[str, Any]:
        self._drain(final=True)
        self._log(ended_.log_line)
        return ended_.payload

    def _finish(self, answer: Invocation, begun: float, cold: bool,
                init_error: dict[str, Any] | None) -> None:
        duration = (time.monotonic() - begun) * 1000
        memory = self.peak_mb
        report = (f"REPORT RequestId: {self._request_id}\tDuration: {duration:.2f} ms\t"
                  f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {self.spec.memory} "
                  f"MB\tMax Memory Used: {memory} MB\t")
        if cold and self.init_ms is not None:
            report += f"Init Duration: {self.init_ms:.2f} ms\t"
        if init_error is not None:
            report += f"Status: error\tError Type: {init_error['errorType']}\t"
        self._log(f"END RequestId: {self._request_id}")
        self._log(report)
        answer.log_lines = self._lines

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to the process group at once (a timed-out invocation, a stopping local
        AWS); the invocation waiting on it sees it end."""
        if self.proc is not None:
            terminate(self.proc, 0)

    def stop(self) -> None:
        """End the sandbox for good: its socket closed (it then exits by itself), SIGTERM
        then SIGKILL to its group, its output file removed."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None
        if self.proc is not None:
            terminate(self.proc, STOP_GRACE)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.output.unlink(missing_ok=True)


class Pool:
    """The sandboxes of one function version."""

    def __init__(self) -> None:
        self.idle: list[Sandbox] = []
        self.live = 0
        self.revision = ""
        self.closed = False
        self.cond = threading.Condition()

    def acquire(self, spec: FunctionSpec, places: Places) -> tuple[Sandbox, list[Sandbox]]:
        """A sandbox for `spec` (warm if one is idle, else a new one), and the stale idle
        sandboxes to stop. TooManyRequestsException when all stay busy for `spec.timeout`."""
        deadline = time.monotonic() + spec.timeout
        stale: list[Sandbox] = []
        with self.cond:
            self.revision = spec.revision
            while True:
                while self.idle:
                    sandbox = self.idle.pop()  # the most recently used: the warmest
                    if sandbox.spec.revision == spec.revision and sandbox.alive():
                        return sandbox, stale
                    stale.append(sandbox)
                    self.live -= 1
                if self.live < MAX_SANDBOXES:
                    self.live += 1
                    return Sandbox(spec, places), stale
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TooManyRequestsException("Rate Exceeded.", Reason=THROTTLED)
                self.cond.wait(remaining)

    def release(self, sandbox: Sandbox, healthy: bool) -> bool:
        """Take the sandbox back; False if it must be stopped instead (failed, stale, closed)."""
        with self.cond:
            keep = healthy and not self.closed and sandbox.spec.revision == self.revision \
                and sandbox.alive()
            if keep:
                self.idle.append(sandbox)
            else:
                self.live -= 1
            self.cond.notify()
            return keep

    def take_idle(self, older_than: float | None = None) -> list[Sandbox]:
        """Remove the idle sandboxes (those unused since `older_than`, if given)."""
        with self.cond:
            taken = [s for s in self.idle if older_than is None or s.last_used < older_than]
            self.idle = [s for s in self.idle if s not in taken]
            self.live -= len(taken)
            self.cond.notify_all()
            return taken


class Runtime:
    """Invokes functions in their sandboxes; one per local AWS."""

    def __init__(self, settings: Settings, base_env: Callable[[], Mapping[str, str]]) -> None:
        root = settings.home / "lambda"
        self.places = Places(settings=settings, sandboxes=root / "sandboxes", tmp=root / "tmp",
                             sockets=Path(tempfile.mkdtemp(prefix="sagepipe-lambda-")))
        for folder in (self.places.sandboxes, self.places.tmp):
            shutil.rmtree(folder, ignore_errors=True)  # what a previous gateway left
            folder.mkdir(parents=True, exist_ok=True)
        self.base_env = base_env
        self.pools: dict[tuple[str, str], Pool] = {}
        self.busy: set[Sandbox] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.reaper = threading.Thread(target=self._reap, name="lambda-reaper", daemon=True)
        self.reaper.start()

    def invoke(self, spec: FunctionSpec, payload: bytes, request_id: str,
               invoked_arn: str, client_context: Any = None) -> Invocation:
        """Run one invocation to its end (answer, error, timeout or exit)."""
        with self.lock:
            pool = self.pools.setdefault((spec.name, spec.version), Pool())
        sandbox, stale = pool.acquire(spec, self.places)
        for old in stale:
            old.stop()
        with self.lock:
            self.busy.add(sandbox)
        healthy = False
        try:
            answer, healthy = sandbox.run({"requestId": request_id,
                                           "invokedFunctionArn": invoked_arn,
                                           "clientContext": client_context},
                                          payload, self.base_env())
        finally:
            with self.lock:
                self.busy.discard(sandbox)
            if not pool.release(sandbox, healthy):
                sandbox.stop()
        return answer

    def retire(self, name: str) -> None:
        """Stop the sandboxes of function `name` (deleted): idle ones now, busy ones when
        their invocation ends."""
        with self.lock:
            pools = [pool for (function, _), pool in self.pools.items() if function == name]
            for key in [key for key in self.pools if key[0] == name]:
                del self.pools[key]
        for pool in pools:
            with pool.cond:
                pool.closed = True
            for sandbox in pool.take_idle():
                sandbox.stop()

    def codes_in_use(self) -> set[str]:
        with self.lock:
            pools = list(self.pools.values())
            running = {sandbox.spec.code for sandbox in self.busy}
        for pool in pools:
            with pool.cond:
                running.update(sandbox.spec.code for sandbox in pool.idle)
        return running

    def _reap(self) -> None:
        while not self.stopping.wait(30):
            cutoff = time.monotonic() - IDLE_SECONDS
            with self.lock:
                pools = list(self.pools.values())
            for pool in pools:
                for sandbox in pool.take_idle(older_than=cutoff):
                    sandbox.stop()

    def shutdown(self) -> None:
        self.stopping.set()
        with self.lock:
            pools = list(self.pools.values())
            busy = list(self.busy)
        for pool in pools:
            with pool.cond:
                pool.closed = True
            for sandbox in pool.take_idle():
                sandbox.stop()
        for sandbox in busy:
            sandbox.kill()
        shutil.rmtree(self.places.sockets, ignore_errors=True)
