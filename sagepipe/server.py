"""Start and stop the local AWS: `sagepipe up` runs this module detached; `down` signals it."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn

from sagepipe.clients import SigV4
from sagepipe.config import HOST, Settings
from sagepipe.credentials import private_home


class StartError(RuntimeError):
    """The local AWS did not come up; the message says where its log is."""


def pid_file(settings: Settings) -> Path:
    return settings.home / "gateway.pid"


def port_file(home: Path) -> Path:
    return home / "gateway.port"


def recorded_port(home: Path) -> int | None:
    """The port the local AWS of this home was last started on."""
    try:
        return int(port_file(home).read_text())
    except (OSError, ValueError):
        return None


def log_file(settings: Settings) -> Path:
    return settings.subdir("logs") / "gateway.log"


def is_up(settings: Settings) -> bool:
    """Whether this home's local AWS answers on its port (a signed call: the home's
    credentials are the proof that it is this home's)."""
    try:
        reply = httpx.get(f"{settings.endpoint_url}/_sagepipe/instance", timeout=1,
                          auth=SigV4(settings), trust_env=False)
    except httpx.HTTPError:
        return False
    return reply.status_code == 200 and reply.json().get("home") == str(settings.home)


def running_pid(settings: Settings) -> int | None:
    try:
        pid = int(pid_file(settings).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start_background(settings: Settings, timeout: float = 30) -> int:
    """Start the gateway detached from this terminal and wait until it answers."""
    if (pid := running_pid(settings)) and is_up(settings):
        return pid
    private_home(settings.home)
    with open(log_file(settings), "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sagepipe.server", "--home", str(settings.home),
             "--port", str(settings.port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartError(f"the local AWS exited at start (code {proc.returncode}); "
                               f"see {log_file(settings)}")
        if is_up(settings):
            pid_file(settings).write_text(str(proc.pid))
            port_file(settings.home).write_text(str(settings.port))
            return proc.pid
        time.sleep(0.1)
    proc.terminate()
    raise StartError(f"the local AWS did not answer within {timeout:.0f}s; "
                       f"see {log_file(settings)}")


def stop(settings: Settings, timeout: float = 30) -> bool:
    """Stop the gateway (and with it every endpoint it serves). False if it was not running."""
    pid = running_pid(settings)
    if pid is None:
        pid_file(settings).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _exited(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file(settings).unlink(missing_ok=True)
    return True


def _exited(pid: int) -> bool:
    """Whether the gateway is gone. Reaps it if this process started it: an unreaped child
    stays a zombie, which `kill(pid, 0)` still finds."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    return False


def serve(settings: Settings) -> None:
    """Run the gateway in the foreground (what the detached process does)."""
    from sagepipe.gateway import LocalAWS

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    local_aws = LocalAWS(settings)
    uvicorn.run(local_aws.app, host=HOST, port=settings.port, access_log=False,
                log_level="warning", timeout_graceful_shutdown=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(Settings(home=args.home.resolve(), port=args.port))


if __name__ == "__main__":
    main()
