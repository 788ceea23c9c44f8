"""InvokeEndpoint's HTTP/1.1 client to model servers (sagepipe/sagemaker/upstream.py), against
real servers on 127.0.0.1 that answer the ways model servers do: framed by Content-Length or
chunked, delimited by closing, closing idle connections, never answering, not speaking HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from sagepipe.sagemaker.upstream import TimedOut, Unreachable, Upstream

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HOST = "127.0.0.1"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and its Content-Length body; b"" once the client has closed."""
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return b""
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


class Server:
    """A TCP server answering every request on a connection with `answer`; counts connections
    and keeps the requests it read."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._serve, HOST, 0)
        return self.server.sockets[0].getsockname()[1]

    async def __aexit__(self, *_: object) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while request := await read_request(reader):
                self.requests.append(request)
                await self.answer(reader, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]


def ok(body: bytes = b"1,0.9\n") -> Answer:
    async def answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
    return answer


def test_an_answer_framed_by_length_and_the_connection_reused() -> None:
    server = Server(ok())

    async def scenario() -> None:
        upstream = Upstream()
        async with server as port:
            for _ in range(3):
                reply = await upstream.post(HOST, port, "/invocations",
                                            {"Content-Type": "text/csv"}, b"3,male,22\n", 5)
                assert (reply.status, reply.headers["content-type"], reply.body) == \
                    (200, "text/csv", b"1,0.9\n")

    run(scenario())
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /invocations HTTP/1.1\r\n")
    assert b"\r\nContent-Type: text/csv\r\n" in server.requests[0]
    assert server.requests[0].endswith(b"\r\n\r\n3,male,22\n")


def test_a_chunked_answer() -> None:
    async def chunked(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"4\r\n1,0.\r\n2\r\n9\n\r\n0\r\n\r\n")
        await writer.drain()

    async def scenario() -> None:
        async with Server(chunked) as port:
            reply = await Upstream().post(HOST, port, "/invocations", {}, b"x", 5)
            assert reply.body == b"1,0.9\n"

    run(scenario())


def test_an_answer_delimited_by_closing_the_connection() -> None:
    async def until_close(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n1,0.9\n")
        await writer.drain()
        writer.close()

    server = Server(until_close)

    async def scenario() -> None:
        upstream = Upstream()
        async with server as port:
            for _ in range(2):
                reply = await upstream.post(HOST, port, "/invocations", {}, b"x", 5)
                assert (reply.status, reply.body) == (200, b"1,0.9\n")

    run(scenario())
    assert server.connections == 2  # a closed connection is never reused


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await ok()(reader, writer)
        writer.close()  # keep-alive announced, then closed: as servers do after a timeout

    server = Server(once)

    async def scenario() -> None:
        upstream = Upstream()
        async with server as port:
            for pause in (0, 0.05, 0):
                # At once: the request goes out before the close is seen, on a connection
                # the server no longer reads (sent again on a new one); after a pause: the
                # closed connection is not taken.
                await asyncio.sleep(pause)
                reply = await upstream.post(HOST, port, "/invocations", {}, b"x", 5)
                assert reply.body == b"1,0.9\n"

    run(scenario())
    assert len(server.requests) == 3  # each call processed once


def test_a_server_that_does_not_answer_in_time() -> None:
    async def silent(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes

    async def scenario() -> None:
        async with Server(silent) as port:
            with pytest.raises(TimedOut, match="no answer within"):
                await Upstream().post(HOST, port, "/invocations", {}, b"x", 0.2)

    run(scenario())


def test_a_server_that_breaks_off_its_answer() -> None:
    async def half(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n1,0.9\n")
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        async with Server(half) as port:
            with pytest.raises(Unreachable, match="closed before a whole answer"):
                await Upstream().post(HOST, port, "/invocations", {}, b"x", 5)

    run(scenario())


def test_a_server_that_does_not_speak_http() -> None:
    async def garbage(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()

    async def scenario() -> None:
        async with Server(garbage) as port:
            with pytest.raises(Unreachable, match=r"not HTTP/1\.1"):
                await Upstream().post(HOST, port, "/invocations", {}, b"x", 5)

    run(scenario())


def test_nothing_listening() -> None:
    async def scenario() -> None:
        server = await asyncio.start_server(lambda *_: None, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        with pytest.raises(Unreachable, match="connection refused"):
            await Upstream().post(HOST, port, "/invocations", {}, b"x", 5)

    run(scenario())
