"""Running local AWS instances, and how a command finds the one it means.

A gateway records itself when it has bound its port: in its home (`gateway.json`: pid, start
time, port; the home remembers its port even once stopped) and in the user's instance
directory (`$XDG_STATE_HOME/sagepipe/instances/<port>.json`), so that a command run without
`--home` still finds an instance started elsewhere. A record is trusted only while its pid runs
with the recorded start time and the command line of this home's gateway: a reused pid is never
taken for ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sagepipe.config import Settings, default_home
from sagepipe.processes import alive, command_line, listener, port_free, start_ticks

SERVER_MODULE = "sagepipe.server"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SETTLE_SECONDS = 5.0


@dataclass(frozen=True)
class Instance:
    home: Path
    port: int
    pid: int
    ticks: int

    @property
    def settings(self) -> Settings:
        return Settings(home=self.home, port=self.port)

    @property
    def endpoint_url(self) -> str:
        return self.settings.endpoint_url

    def running(self) -> bool:
        return alive(self.pid, self.ticks) and gateway_home(command_line(self.pid)) == self.home

    def describe(self) -> str:
        return f"{self.endpoint_url} (home {self.home})"


class NotRunning(LookupError):
    """No running local AWS matches what the command was given; the message says what to do."""


class Ambiguous(NotRunning):
    """Several run and nothing says which one the command means."""


def gateway_argv(settings: Settings) -> list[str]:
    """The command line of the gateway of `settings` (what identifies it in /proc)."""
    return [sys.executable, "-m", SERVER_MODULE, "--home", str(settings.home.resolve()),
            "--port", str(settings.port)]


def gateway_home(argv: list[str]) -> Path | None:
    """The home of the gateway run by `argv`, None if `argv` is not a gateway's."""
    if SERVER_MODULE not in argv or "--home" not in argv[:-1]:
        return None
    return Path(argv[argv.index("--home") + 1]).resolve()


def registry_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "sagepipe" / "instances"


def _home_record(home: Path) -> Path:
    return home / "gateway.json"


def _write(path: Path, instance: Instance) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**asdict(instance), "home": str(instance.home)}))
    tmp.replace(path)


def _read(path: Path) -> Instance | None:
    try:
        data = json.loads(path.read_text())
        return Instance(Path(data["home"]), int(data["port"]), int(data["pid"]),
                        int(data["ticks"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record(settings: Settings) -> Instance:
    """Record this process as the gateway of `settings` (called by the gateway itself)."""
    instance = Instance(settings.home, settings.port, os.getpid(), start_ticks(os.getpid()) or 0)
    _write(_home_record(settings.home), instance)
    _write(registry_dir() / f"{settings.port}.json", instance)
    return instance


def forget(instance: Instance) -> None:
    """Drop the user-wide entry of a gateway that stops (the home keeps its port record)."""
    entry = registry_dir() / f"{instance.port}.json"
    if _read(entry) == instance:
        entry.unlink(missing_ok=True)


def recorded_port(home: Path) -> int | None:
    """The port the gateway of `home` runs on, or last ran on."""
    instance = _read(_home_record(home))
    return instance.port if instance else None


def of_home(home: Path) -> Instance | None:
    """The running gateway of `home`, if any."""
    instance = _read(_home_record(home))
    return instance if instance is not None and instance.running() else None


def all_running() -> list[Instance]:
    """Every running gateway of this user (stale entries are removed on the way)."""
    found = []
    for entry in sorted(registry_dir().glob("*.json")):
        instance = _read(entry)
        if instance is not None and instance.running():
            found.append(instance)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    return found


def at_url(url: str) -> Instance | None:
    """The running gateway listening at `url` (e.g. AWS_ENDPOINT_URL), if it is one."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK or parts.port is None:
        return None
    for instance in all_running():
        if instance.port == parts.port:
            return instance
    holder = listener(parts.port)
    home = gateway_home(holder[1]) if holder else None
    return of_home(home) if home is not None else None


def find(home: Path | None, port: int | None, endpoint_url: str | None) -> Instance:
    """The running local AWS a command means, from what it was given, in this order: a home
    (`--home`, `SAGEPIPE_HOME`) or a port (`--port`); else `AWS_ENDPOINT_URL` where it names a
    local AWS (what `eval "$(sagepipe env)"` exported); else the default home's instance; else
    the one instance this user runs. Raises NotRunning saying what was looked for."""
    if home is not None:
        instance = of_home(home.resolve())
        if instance is None:
            raise NotRunning(f"the local AWS of home {home} is not running; start it with "
                             f"`sagepipe up --home {home}`")
        return instance
    running = all_running()
    if port is not None:
        for instance in running:
            if instance.port == port:
                return instance
        raise NotRunning(f"no local AWS is running on port {port}; start one with "
                         f"`sagepipe up --port {port}`")
    if endpoint_url and (instance := at_url(endpoint_url)) is not None:
        return instance
    if (instance := of_home(default_home())) is not None:
        return instance
    if len(running) == 1:
        return running[0]
    if running:
        raise Ambiguous("several local AWS instances run and none is this repository's ("
                         f"{default_home()}); say which with --home: " + ", ".join(
                             f"`--home {i.home}` ({i.endpoint_url})" for i in running))
    raise NotRunning(f"the local AWS is not running (home {default_home()}); start it with "
                     "`sagepipe up`")


def port_taken(port: int) -> str | None:
    """None if `port` is free; else what holds it, said so that the user can act: another
    local AWS and its home where it is one, else the process if /proc tells."""
    if port_free(port):
        return None
    holder = listener(port)
    deadline = time.monotonic() + SETTLE_SECONDS
    while holder is None and time.monotonic() < deadline:
        # No process holds it: a socket whose process has just died, which the kernel frees
        # within moments (seen right after a kill -9 of a gateway).
        time.sleep(0.1)
        if port_free(port):
            return None
        holder = listener(port)
    if holder is None:
        return f"port {port} is taken (by a process this user cannot see)"
    pid, argv = holder
    home = gateway_home(argv)
    if home is not None:
        return f"port {port} is taken by another local AWS (home {home}, pid {pid})"
    command = " ".join(argv)
    return (f"port {port} is taken by pid {pid} "
            f"({command[:100] + '...' if len(command) > 100 else command or 'unknown'})")


def next_free_port(port: int) -> int:
    """The first free port above `port`: what to suggest with `--port`."""
    candidate = port + 1
    while candidate < 65535 and not port_free(candidate):
        candidate += 1
    return candidate
