"""InvokeEndpoint's hop to a model server: HTTP/1.1 over persistent connections, kept lean.

The gateway is one Python process on the machine that also runs the model servers and their
clients, so every microsecond it spends per invocation is taken from them. httpx spent about
0.7 ms of the gateway's CPU per invocation (its pool, per-request objects, anyio's cancel
scopes and socket checks: 70% of the gateway's time at 8 connections, measured with
bench/gateway.py); this client is an asyncio protocol feeding httptools' C parser and costs a
small fraction of that. It does what the hop needs and no more: one request at a time per
connection, the whole body in memory (InvokeEndpoint's are at most 6 MB), a body framed by
Content-Length, chunked, or the end of the connection.

Connections stay open and are reused, the most recently used first. One to a server in its own
network namespace comes from the server's connection broker (relay.py), any other from TCP.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import cast

import httptools

from sagepipe.sagemaker import relay

CONNECT_TIMEOUT = 5.0
MAX_IDLE = 64  # per server: more concurrent invocations open more, closed once answered


class UpstreamError(Exception):
    """The server could not be reached or broke the exchange off; the message says how."""


class Unreachable(UpstreamError):
    pass


class TimedOut(UpstreamError):
    pass


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes


class _Stale(Exception):
    """A reused connection the server had closed before reading the request (retried)."""


class _Connection(asyncio.Protocol):
    """One connection to a server; the parser calls back as the answer arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self._answer: asyncio.Future[Reply] | None = None
        self._received = False
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        # Once the headers are in: whether the body is framed (Content-Length, chunked) or
        # ends with the connection.
        self._framed: bool | None = None

    async def exchange(self, request: bytes, timeout: float) -> Reply:
        loop = asyncio.get_running_loop()
        self._answer = answer = loop.create_future()
        self._received, self._headers, self._body, self._framed = False, {}, [], None
        assert self.transport is not None
        self.transport.write(request)
        timer = loop.call_later(timeout, self._fail, TimedOut(f"no answer within {timeout:.0f}s"))
        try:
            return await answer
        finally:
            timer.cancel()
            self._answer = None
            if not answer.done() or answer.cancelled() or answer.exception() is not None:
                self.close()  # an answer may still come: this connection carries no other

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(Unreachable(f"its answer is not HTTP/1.1 ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is None or self._answer.done():
            return
        if self._framed is False:
            self.on_message_complete()  # a body delimited by the end of the connection
        elif self.reused and not self._received:
            self._fail(_Stale())
        else:
            self._fail(Unreachable("the connection was closed before a whole answer "
                                   f"arrived ({exc or 'closed by the server'})"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        self._framed = "content-length" in self._headers or \
            "transfer-encoding" in self._headers

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._answer is not None and not self._answer.done():
            if not self.parser.should_keep_alive():
                self.close()
            self._answer.set_result(Reply(self.parser.get_status_code(), self._headers,
                                          b"".join(self._body)))


class Upstream:
    """Idle connections per server (host, port), made in the gateway's event loop."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def post(self, host: str, port: int, path: str, headers: dict[str, str],
                   body: bytes, timeout: float) -> Reply:
        """POST `body` to the server; UpstreamError (TimedOut after `timeout`) if it fails."""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Content-Length: {len(body)}\r\n{head}\r\n").encode("latin-1") + body
        idle = self._idle.setdefault((host, port), [])
        while True:
            connection = self._reuse(idle) or await self._connect(host, port)
            try:
                reply = await connection.exchange(request, timeout)
            except _Stale:
                continue  # the server closed it while idle, before reading: never processed
            if not connection.closed and len(idle) < MAX_IDLE:
                connection.reused = True
                idle.append(connection)
            else:
                connection.close()
            return reply

    @staticmethod
    def _reuse(idle: list[_Connection]) -> _Connection | None:
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    @staticmethod
    async def _connect(host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection()
        broker = relay.broker_for(host, port)
        try:
            if broker is None:
                await asyncio.wait_for(loop.create_connection(lambda: connection, host, port),
                                       CONNECT_TIMEOUT)
            else:
                sock: socket.socket = await loop.run_in_executor(None, broker.connect)
                await loop.create_connection(lambda: connection, sock=sock)
        except ConnectionRefusedError as exc:
            if broker is not None:
                raise Unreachable("connection refused inside the model server's network "
                                  f"namespace: {exc}") from None
            raise Unreachable(f"connection refused: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise Unreachable(f"could not connect: {exc or type(exc).__name__}") from None
        return connection
