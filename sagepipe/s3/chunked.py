"""S3's aws-chunked bodies (`Content-Encoding: aws-chunked`), what SDKs send when they stream
an upload of unknown hash: `<hex size>[;chunk-signature=<sig>]\\r\\n<bytes>\\r\\n` per chunk, a
last chunk of size 0, then trailing headers (a checksum, its signature) and an empty line.

With `x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` every chunk is
signed, each signature chained to the previous one from the request's own (the seed); with
`STREAMING-UNSIGNED-PAYLOAD-TRAILER` chunks are not signed and the body's integrity rests on the
trailing checksum. The decoder works on the bytes as they arrive, never holding a whole chunk.
"""

from __future__ import annotations

import hashlib
import hmac

from sagepipe.s3.exceptions import IncompleteBody
from sagepipe.sigv4 import EMPTY_SHA256, MISMATCH, AccessRefused, Refusal, Signature

MAX_LINE = 4096
SIGNED_MODES = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
TRAILER_SIGNATURE = "x-amz-trailer-signature"


def malformed(detail: str) -> IncompleteBody:
    return IncompleteBody(f"The request body is not valid aws-chunked encoding: {detail}.")


class ChunkedDecoder:
    """Feed it the body as it arrives; it returns the object's bytes and, at the end, the
    trailing headers. `signature` is the request's, when its chunks are signed."""

    def __init__(self, signature: Signature | None) -> None:
        self.signature = signature
        self.previous = signature.signature if signature else ""
        self.buffer = bytearray()
        self.remaining: int | None = None  # bytes of the current chunk still to come
        self.chunk_signature = ""
        self.chunk_hash = hashlib.sha256()
        self.last_chunk_seen = False
        self.trailers: dict[str, str] = {}
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        pieces: list[bytes] = []
        while self.buffer and not self.done:
            if self.remaining is None:
                line = self._line()
                if line is None:
                    break
                self._header_or_trailer(line)
            elif self.remaining > 0:
                piece = bytes(self.buffer[:self.remaining])
                del self.buffer[:len(piece)]
                self.remaining -= len(piece)
                self.chunk_hash.update(piece)
                pieces.append(piece)
            else:
                if len(self.buffer) < 2:
                    break
                if self.buffer[:2] != b"\r\n":
                    raise malformed("a chunk is longer than its declared size")
                del self.buffer[:2]
                self._end_chunk()
        if self.done and self.buffer:
            raise malformed("bytes follow the end of the body")
        return pieces

    def finish(self) -> dict[str, str]:
        """The trailing headers, once the whole body has been fed."""
        if not self.done:
            raise malformed("the body ended before its last chunk")
        return self.trailers

    def _line(self) -> str | None:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            if len(self.buffer) > MAX_LINE:
                raise malformed("a chunk header is too long")
            return None
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 2]
        try:
            return line.decode("ascii")
        except UnicodeDecodeError:
            raise malformed("a chunk header is not ASCII") from None

    def _header_or_trailer(self, line: str) -> None:
        if self.last_chunk_seen:
            self._trailer(line)
            return
        size, *extensions = line.split(";")
        try:
            self.remaining = int(size, 16)
        except ValueError:
            raise malformed(f"{size!r} is not a hexadecimal chunk size") from None
        params = dict(ext.partition("=")[::2] for ext in extensions)
        self.chunk_signature = params.get("chunk-signature", "")
        if self.signature is not None and not self.chunk_signature:
            raise malformed("a chunk has no chunk-signature")
        self.chunk_hash = hashlib.sha256()
        if self.remaining == 0:
            self._end_chunk()
            self.remaining = None
            self.last_chunk_seen = True

    def _end_chunk(self) -> None:
        if self.signature is not None:
            expected = self.signature.chained("PAYLOAD", self.previous,
                                              [EMPTY_SHA256, self.chunk_hash.hexdigest()])
            self._check(expected, self.chunk_signature)
            self.previous = self.chunk_signature
        self.remaining = None

    def _trailer(self, line: str) -> None:
        if line == "":
            self.done = True
            return
        name, sep, value = line.partition(":")
        if not sep:
            raise malformed(f"the trailing header {line!r} has no ':'")
        name, value = name.strip().lower(), value.strip()
        if name == TRAILER_SIGNATURE and self.signature is not None:
            canonical = "".join(f"{k}:{v}\n" for k, v in self.trailers.items())
            self._check(self.signature.chained(
                "TRAILER", self.previous, [hashlib.sha256(canonical.encode()).hexdigest()]),
                value)
        else:
            self.trailers[name] = value

    @staticmethod
    def _check(expected: str, provided: str) -> None:
        if not hmac.compare_digest(expected, provided):
            raise AccessRefused(Refusal.MISMATCH, MISMATCH, SignatureProvided=provided)
