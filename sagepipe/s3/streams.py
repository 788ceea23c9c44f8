"""Request and response bodies, streamed to and from disk with file work in worker threads.

An object body goes to a temp blob as it arrives (never whole in memory); an XML body is
bounded; both are checked against the digests the client sent. A request whose body was not
read is answered with `Connection: close`, since its unread bytes would otherwise be parsed as
the next request on the connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, BinaryIO, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sagepipe.errors import AWSError
from sagepipe.s3.blobs import CHUNK, BlobWriter
from sagepipe.s3.checksums import BodyDigests
from sagepipe.s3.models import S3Backend

T = TypeVar("T")
MAX_OBJECT_BYTES = 5 * 1024**3
MAX_XML_BYTES = 10 * 1024**2


async def run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking backend work (files, SQLite) in a worker thread."""
    return await run_in_threadpool(partial(func, *args, **kwargs))


def declares_body(request: Request) -> bool:
    return request.headers.get("content-length", "0") != "0" or \
        "chunked" in request.headers.get("transfer-encoding", "")


def body_was_read(request: Request) -> bool:
    return getattr(request.state, "body_read", False)


async def read_xml_body(request: Request, checksum_required: bool) -> bytes:
    """An XML request body, bounded in size and checked against its digests."""
    digests = BodyDigests(request.headers)
    if checksum_required and not digests.sent_any:
        raise AWSError("InvalidRequest", "Missing required header for this request: "
                       "Content-MD5 (or an x-amz-checksum-* header).")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_XML_BYTES:
            raise AWSError("MaxMessageLengthExceeded", "Your request was too big: XML request "
                           f"bodies are limited to {MAX_XML_BYTES} bytes.")
        chunks.append(chunk)
    request.state.body_read = True
    body = b"".join(chunks)
    digests.update(body)
    digests.verify()
    return body


@asynccontextmanager
async def receive_object(request: Request, backend: S3Backend,
                         length: int | None) -> AsyncIterator[BlobWriter]:
    """Stream an object body (`length` from Content-Length) into a temp blob; the temp file
    is gone at exit unless a commit took it."""
    if "aws-chunked" in request.headers.get("content-encoding", "") or \
            request.headers.get("x-amz-content-sha256", "").startswith("STREAMING-"):
        raise AWSError("NotImplemented", "sagepipe's local S3 does not accept aws-chunked "
                       "(streaming-signed) bodies; send the body with a Content-Length, as "
                       "boto3 and the AWS CLI do over http.", 501)
    if length is None and "chunked" not in request.headers.get("transfer-encoding", ""):
        raise AWSError("MissingContentLength", "You must provide the Content-Length HTTP "
                       "header.", 411)
    if length is not None and length > MAX_OBJECT_BYTES:
        raise AWSError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed "
                       f"size of {MAX_OBJECT_BYTES} bytes; use a multipart upload.",
                       ProposedSize=str(length), MaxSizeAllowed=str(MAX_OBJECT_BYTES))
    body = await run(backend.writer, BodyDigests(request.headers))
    try:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) >= CHUNK:
                await run(body.write, bytes(buffer))
                buffer.clear()
        await run(body.write, bytes(buffer))
        request.state.body_read = True
        if length is not None and body.size != length:
            raise AWSError("IncompleteBody", "You did not provide the number of bytes specified "
                           f"by the Content-Length HTTP header ({body.size} of {length}).")
        yield body
    finally:
        await run(body.discard)


async def read_blob(handle: BinaryIO, first: int, length: int) -> AsyncIterator[bytes]:
    """`length` bytes of an open blob from `first` on, read in worker threads; closes it."""
    try:
        await run(handle.seek, first)
        while length > 0:
            chunk = await run(handle.read, min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()
