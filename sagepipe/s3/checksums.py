"""Digests a client sends with a body, checked as S3 checks them.

A body can come with Content-MD5, x-amz-checksum-<algorithm> (as a header, or as a trailing
header of an aws-chunked body that `x-amz-trailer` announces) and, when its SigV4 signature
covers the payload, x-amz-content-sha256 (hex). S3 accepts the body only if every digest the
client sent matches what arrived. The algorithms
computed here are the ones the standard library has (MD5, SHA-1/256/512, CRC32); a checksum in
another algorithm (CRC32C, CRC64NVME, XXHASH) is accepted without being verified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Mapping
from typing import Protocol

from sagepipe.errors import ServiceError
from sagepipe.s3.exceptions import (
    BadDigest,
    InvalidArgument,
    InvalidDigest,
    InvalidRequest,
    XAmzContentSHA256Mismatch,
)


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class Crc32:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


HASHERS: dict[str, Callable[[], Hasher]] = {
    "md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256,
    "sha512": hashlib.sha512, "crc32": Crc32,
}
DIGEST_SIZES = {name: len(factory().digest()) for name, factory in HASHERS.items()}
CHECKSUM_HEADER = "x-amz-checksum-"
PAYLOAD_HASH_HEADER = "x-amz-content-sha256"
TRAILER_HEADER = "x-amz-trailer"
UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD", "STREAMING-")
UNVERIFIED = ("crc32c", "crc64nvme", "xxhash64", "xxhash3", "xxhash128")


def _decode(value: str, size: int) -> bytes | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        return None
    return raw if len(raw) == size else None


class BodyDigests:
    """The digests expected for one request body; feed it the body, then `verify()`."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.sent_any = "content-md5" in headers or any(
            CHECKSUM_HEADER + algorithm in headers for algorithm in (*HASHERS, *UNVERIFIED))
        # what the client sent -> (expected digest, hasher, error on mismatch)
        self._expected: dict[str, tuple[bytes, Hasher, type[ServiceError]]] = {}
        if (md5 := headers.get("content-md5")) is not None:
            raw = _decode(md5, DIGEST_SIZES["md5"])
            if raw is None:
                raise InvalidDigest("The Content-MD5 you specified is not valid: it must be the "
                                    "base64 of the body's 16-byte MD5 digest.")
            self._expected["Content-MD5"] = (raw, HASHERS["md5"](), BadDigest)
        payload_hash = headers.get(PAYLOAD_HASH_HEADER)
        if payload_hash and not payload_hash.startswith(UNSIGNED_PAYLOADS):
            try:
                raw = bytes.fromhex(payload_hash)
            except ValueError:
                raw = b""
            if len(raw) != DIGEST_SIZES["sha256"]:
                raise InvalidArgument(f"{PAYLOAD_HASH_HEADER} must be UNSIGNED-PAYLOAD, "
                                      "STREAMING-..., or the hex SHA-256 of the body.",
                                      ArgumentName=PAYLOAD_HASH_HEADER, ArgumentValue=payload_hash)
            self._expected[PAYLOAD_HASH_HEADER] = (raw, HASHERS["sha256"](),
                                                   XAmzContentSHA256Mismatch)
        for algorithm, size in DIGEST_SIZES.items():
            header = CHECKSUM_HEADER + algorithm
            if (value := headers.get(header)) is None:
                continue
            raw = _decode(value, size)
            if raw is None:
                raise InvalidRequest(f"Value for {header} header is invalid: it must be the "
                                     f"base64 of a {size}-byte {algorithm.upper()} digest.")
            self._expected[header] = (raw, HASHERS[algorithm](), BadDigest)
        # A checksum that comes after the body (aws-chunked): computed now, compared at the end.
        self._trailing: dict[str, tuple[int, Hasher]] = {}
        if trailer := headers.get(TRAILER_HEADER):
            algorithm = trailer.strip().lower().removeprefix(CHECKSUM_HEADER)
            if algorithm in HASHERS:
                self._trailing[CHECKSUM_HEADER + algorithm] = (DIGEST_SIZES[algorithm],
                                                               HASHERS[algorithm]())
            elif algorithm not in UNVERIFIED:
                raise InvalidRequest(f"The {TRAILER_HEADER} header announces {trailer!r}, "
                                     f"which is not an {CHECKSUM_HEADER}<algorithm> header.")

    def take_trailers(self, trailers: dict[str, str]) -> None:
        """The trailing headers of an aws-chunked body: the announced checksum must be there."""
        for header, (size, hasher) in self._trailing.items():
            raw = _decode(trailers.get(header, ""), size)
            if raw is None:
                raise InvalidRequest(f"The trailing header {header} announced by "
                                     f"{TRAILER_HEADER} is missing or is not a base64 digest.")
            self._expected[header] = (raw, hasher, BadDigest)
        self._trailing = {}

    def update(self, data: bytes) -> None:
        for _, hasher, _ in self._expected.values():
            hasher.update(data)
        for _, hasher in self._trailing.values():
            hasher.update(data)

    def verify(self) -> None:
        if self._trailing:
            raise InvalidRequest(f"{TRAILER_HEADER} announces a trailing checksum, which only an "
                                 "aws-chunked body can carry.")
        for name, (raw, hasher, error) in self._expected.items():
            if hasher.digest() != raw:
                raise error(f"The {name} you specified did not match the checksum of the body "
                            "that was received.")
