"""Request and response bodies, streamed to and from disk with file work in worker threads.

An object body goes to a temp blob as it arrives (never whole in memory), decoded on the way if
it is aws-chunked (s3.chunked); an XML body is bounded; both are checked against the digests
the client sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, BinaryIO, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sagepipe.edge import RequestContext, mark_body_read
from sagepipe.s3.blobs import CHUNK, BlobWriter
from sagepipe.s3.checksums import PAYLOAD_HASH_HEADER, BodyDigests
from sagepipe.s3.chunked import SIGNED_MODES, ChunkedDecoder
from sagepipe.s3.exceptions import (
    EntityTooLarge,
    IncompleteBody,
    InvalidRequest,
    MaxMessageLengthExceeded,
    MissingContentLength,
)
from sagepipe.s3.models import S3Backend

T = TypeVar("T")
MAX_OBJECT_BYTES = 5 * 1024**3
MAX_XML_BYTES = 10 * 1024**2
DECODED_LENGTH = "x-amz-decoded-content-length"


async def run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking backend work (files, SQLite) in a worker thread."""
    return await run_in_threadpool(partial(func, *args, **kwargs))


async def read_xml_body(request: Request, checksum_required: bool) -> bytes:
    """An XML request body, bounded in size and checked against its digests."""
    digests = BodyDigests(request.headers)
    if checksum_required and not digests.sent_any:
        raise InvalidRequest("Missing required header for this request: Content-MD5 (or an "
                             "x-amz-checksum-* header).")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_XML_BYTES:
            raise MaxMessageLengthExceeded("Your request was too big: XML request bodies are "
                                           f"limited to {MAX_XML_BYTES} bytes.")
        chunks.append(chunk)
    mark_body_read(request)
    body = b"".join(chunks)
    digests.update(body)
    digests.verify()
    return body


def is_aws_chunked(request: Request) -> bool:
    return "aws-chunked" in request.headers.get("content-encoding", "") or \
        request.headers.get(PAYLOAD_HASH_HEADER, "").startswith("STREAMING-")


@asynccontextmanager
async def receive_object(context: RequestContext, backend: S3Backend, length: int | None,
                         algorithm: str | None = None) -> AsyncIterator[BlobWriter]:
    """Stream an object body (`length` from Content-Length, or from
    x-amz-decoded-content-length for an aws-chunked one) into a temp blob, computing the
    checksum the client sends or `algorithm`'s; the temp file is gone at exit unless a commit
    took it."""
    request = context.request
    chunked = is_aws_chunked(request)
    if chunked:
        decoded = request.headers.get(DECODED_LENGTH, "")
        if not decoded.isdigit():
            raise MissingContentLength(f"An aws-chunked body needs the {DECODED_LENGTH} header "
                                       "(the object's size).")
        length = int(decoded)
    elif length is None and "chunked" not in request.headers.get("transfer-encoding", ""):
        raise MissingContentLength("You must provide the Content-Length HTTP header.")
    if length is not None and length > MAX_OBJECT_BYTES:
        raise EntityTooLarge("Your proposed upload exceeds the maximum allowed size of "
                             f"{MAX_OBJECT_BYTES} bytes; use a multipart upload.",
                             ProposedSize=str(length), MaxSizeAllowed=str(MAX_OBJECT_BYTES))
    digests = BodyDigests(request.headers, algorithm)
    body = await run(backend.writer, digests)
    signed = context.signature is not None and context.signature.payload_hash in SIGNED_MODES
    decoder = ChunkedDecoder(context.signature if signed else None) if chunked else None
    try:
        buffer = bytearray()
        async for chunk in request.stream():
            for piece in decoder.feed(chunk) if decoder else (chunk,):
                buffer += piece
            if len(buffer) >= CHUNK:
                await run(body.write, bytes(buffer))
                buffer.clear()
        await run(body.write, bytes(buffer))
        mark_body_read(request)
        if decoder:
            digests.take_trailers(decoder.finish())
        if length is not None and body.size != length:
            raise IncompleteBody("You did not provide the number of bytes specified by the "
                                 f"{DECODED_LENGTH if chunked else 'Content-Length'} HTTP "
                                 f"header ({body.size} of {length}).")
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
