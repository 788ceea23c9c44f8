"""Start and stop the local AWS: `sagepipe up` runs this module detached; `down` stops it by its
recorded pid (sagepipe/instances.py), never by asking it over HTTP, which a busy gateway may
answer too late."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

import httpx
import uvicorn

from sagepipe import instances
from sagepipe.clients import SigV4
from sagepipe.config import HOST, Settings
from sagepipe.credentials import private_home
from sagepipe.instances import Instance
from sagepipe.processes import NotReady, log_tail, start_and_wait, stop_pid

START_TIMEOUT = 60.0
STOP_GRACE = 30.0  # the gateway stops its jobs, endpoints and APIs first


class StartError(RuntimeError):
    """The local AWS did not come up; the message says why in one line, and where to look."""


def log_file(settings: Settings) -> Path:
    return settings.subdir("logs") / "gateway.log"


def is_up(settings: Settings) -> bool:
    """Whether the gateway of `settings`'s home answers on its port (a signed call: the home's
    credentials are the proof that it is this home's)."""
    try:
        reply = httpx.get(f"{settings.endpoint_url}/_sagepipe/instance", timeout=2,
                          auth=SigV4(settings), trust_env=False)
    except httpx.HTTPError:
        return False
    return reply.status_code == 200 and reply.json().get("home") == str(settings.home.resolve())


def running_pid(settings: Settings) -> int | None:
    instance = instances.of_home(settings.home)
    return instance.pid if instance else None


def port_message(port: int, taken: str) -> str:
    return f"{taken}; use another one: `--port {instances.next_free_port(port)}`"


def start_background(settings: Settings, timeout: float = START_TIMEOUT) -> Instance:
    """Start the gateway of `settings` detached from this terminal and wait until it answers;
    if that home's gateway already runs (on the same port), return it."""
    if (running := instances.of_home(settings.home)) is not None:
        if running.port != settings.port:
            raise StartError(f"the local AWS of home {settings.home} already runs on port "
                             f"{running.port}: use that one (`--port {running.port}`) or stop "
                             "it first (`sagepipe down`)")
        return running
    if taken := instances.port_taken(settings.port):
        raise StartError(port_message(settings.port, taken))
    private_home(settings.home)
    try:
        start_and_wait(instances.gateway_argv(settings), log_file(settings),
                       lambda: is_up(settings), timeout, grace=STOP_GRACE)
    except NotReady as failure:
        if failure.code is not None and (taken := instances.port_taken(settings.port)):
            raise StartError(port_message(settings.port, taken)) from None  # lost a race
        last = log_tail(log_file(settings), 1)
        raise StartError(f"the local AWS did not start: {failure} ({last}); see "
                         f"{log_file(settings)}") from None
    instance = instances.of_home(settings.home)
    if instance is None:
        raise StartError(f"the local AWS started but did not record itself in {settings.home}")
    return instance


def stop(settings: Settings, timeout: float = STOP_GRACE) -> bool:
    """Stop the gateway of `settings`'s home (and with it every endpoint and API it serves) by
    its recorded pid, and wait until it has exited. False if it was not running."""
    instance = instances.of_home(settings.home)
    if instance is None:
        return False
    stopped = stop_pid(instance.pid, instance.ticks, timeout)
    instances.forget(instance)
    return stopped


def bind(port: int) -> socket.socket:
    """The listening socket, bound before anything starts so that a taken port is said at once,
    in one line, naming what holds it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        sys.exit(port_message(port, instances.port_taken(port) or f"port {port} is taken"))
    sock.listen(2048)
    return sock


def serve(settings: Settings) -> None:
    """Run the gateway in the foreground (what the detached process does)."""
    from sagepipe.gateway import LocalAWS

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sock = bind(settings.port)
    instance = instances.record(settings)
    try:
        local_aws = LocalAWS(settings)
        # No proxy headers: nothing stands in front of the gateway (it listens on loopback),
        # so no X-Forwarded-For is to be believed.
        config = uvicorn.Config(local_aws.app, access_log=False, log_level="warning",
                                interface="asgi3", proxy_headers=False,
                                timeout_graceful_shutdown=10)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        instances.forget(instance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(Settings(home=args.home.resolve(), port=args.port))


if __name__ == "__main__":
    main()
