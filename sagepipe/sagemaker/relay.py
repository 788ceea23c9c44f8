"""How the local AWS reaches a model server that listens on 8080 in a network namespace of its
own (`container_init`): through the server's connection broker.

Each server is addressed as `http://127.0.0.1:<port>`, a port reserved for it on the host. For
a server in its own namespace nothing listens there: the HTTP clients of the local AWS ask that
server's `Broker` for a connection instead (InvokeEndpoint's `upstream.py` through
`broker_for`; batch transform and the health checks through `sync_transport` below). The
broker, inside the namespace, connects to 127.0.0.1:8080 and hands the connected socket back
(SCM_RIGHTS): from then on requests go over that socket as over any pooled TCP connection, with
no process copying bytes in between; only opening a connection costs one round trip to the
broker. A server without a broker (the machine allows no namespaces) listens on the host port
itself, reached over plain TCP.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable

import httpcore
import httpx
from httpcore._backends.base import SOCKET_OPTION
from httpcore._backends.sync import SyncStream

from sagepipe.config import HOST
from sagepipe.processes import free_port

CONNECT_TIMEOUT = 5.0


class Broker:
    """The local AWS's end of a model server's connection broker (a SEQPACKET socket pair:
    `theirs` is inherited by the server's init process)."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.ours.settimeout(CONNECT_TIMEOUT)
        self._lock = threading.Lock()

    def connect(self) -> socket.socket:
        """A new connection to the server; ConnectionRefusedError with the broker's reason
        (nothing listens on 8080 in the namespace, yet) or when the broker is gone."""
        with self._lock:
            try:
                self.ours.send(b"c")
                message, fds, _flags, _addr = socket.recv_fds(self.ours, 256, 1)
            except OSError as exc:
                raise ConnectionRefusedError(f"its connection broker is gone ({exc})") from None
        if not fds:
            raise ConnectionRefusedError(message.decode(errors="replace") or
                                         "its connection broker is gone")
        sock = socket.socket(fileno=fds[0])
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def started(self) -> None:
        """The server's process has its end now: close ours of it."""
        self.theirs.close()

    def close(self) -> None:
        self.theirs.close()
        self.ours.close()


_brokers: dict[int, Broker] = {}
_brokers_lock = threading.Lock()


def attach(broker: Broker) -> int:
    """Reserve a host port for `broker`'s server and route connections to 127.0.0.1:<port>
    through it. The port is one no broker holds: the kernel hands a released free port out
    again, and two servers behind one address would take each other's traffic."""
    with _brokers_lock:
        port = free_port()
        while port in _brokers:
            port = free_port()
        _brokers[port] = broker
    return port


def detach(port: int) -> None:
    with _brokers_lock:
        broker = _brokers.pop(port, None)
    if broker is not None:
        broker.close()


def broker_for(host: str, port: int) -> Broker | None:
    """The broker that reaches the server addressed as `host`:`port`, if it has one."""
    with _brokers_lock:
        return _brokers.get(port) if host == HOST else None


def _brokered(broker: Broker) -> socket.socket:
    try:
        return broker.connect()
    except ConnectionRefusedError as exc:
        raise httpcore.ConnectError(f"connection refused inside the model server's network "
                                    f"namespace: {exc}") from None


class SyncNetwork(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[SOCKET_OPTION] | None = None
                    ) -> httpcore.NetworkStream:
        broker = broker_for(host, port)
        if broker is None:
            return self._tcp.connect_tcp(host, port, timeout, local_address, socket_options)
        return SyncStream(_brokered(broker))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[SOCKET_OPTION] | None = None
                            ) -> httpcore.NetworkStream:
        return self._tcp.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._tcp.sleep(seconds)


# httpx takes no network backend: its transports are made as usual, then given a connection
# pool with ours (the one private attribute used; httpx is pinned).
DEFAULT_LIMITS = httpx.Limits()


def sync_transport(limits: httpx.Limits = DEFAULT_LIMITS) -> httpx.HTTPTransport:
    """An httpx transport that reaches model servers in their namespaces."""
    transport = httpx.HTTPTransport(limits=limits)
    transport._pool = httpcore.ConnectionPool(
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry, network_backend=SyncNetwork())
    return transport


def listening_ports(pid: int) -> list[int]:
    """The TCP ports listened on in the network namespace of process `pid` (for a failure
    reason: the server listens, but not where it is asked)."""
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}", encoding="ascii") as stream:
                next(stream)
                for line in stream:
                    fields = line.split()
                    if fields[3] == "0A":  # LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return sorted(ports)
