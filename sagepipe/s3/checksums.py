"""Digests a client sends with a body, checked as S3 checks them, and the checksum S3 keeps.

A body can come with Content-MD5, x-amz-checksum-<algorithm> (as a header, or as a trailing
header of an aws-chunked body that `x-amz-trailer` announces) and, when its SigV4 signature
covers the payload, x-amz-content-sha256 (hex). S3 accepts the body only if every digest the
client sent matches what arrived. The algorithms computed here are S3's flexible checksums
(CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256, SHA-512, MD5; the CRCs other than CRC32 through
anycrc); an XXHASH checksum is accepted without being verified.

Each object keeps one checksum, returned by GetObject/HeadObject with ChecksumMode=ENABLED: the
one its client sent, else a CRC64NVME computed on the way in (what S3 does since 2025). A
multipart object keeps its upload's algorithm: COMPOSITE (the digest of the parts' digests,
`-<parts>`) or FULL_OBJECT (of the whole body), computed when the parts are joined.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import anycrc

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


class AnyCrc:
    """A CRC the standard library lacks, by its catalogue name (anycrc continues a CRC from
    its previous value)."""

    def __init__(self, model: str, size: int) -> None:
        self._model = anycrc.Model(model)
        self._size = size
        self._value = self._model.calc(b"")

    def update(self, data: bytes) -> None:
        self._value = self._model.calc(data, self._value)

    def digest(self) -> bytes:
        return int(self._value).to_bytes(self._size, "big")


HASHERS: dict[str, Callable[[], Hasher]] = {
    "md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256,
    "sha512": hashlib.sha512, "crc32": Crc32,
    "crc32c": lambda: AnyCrc("CRC32-ISCSI", 4), "crc64nvme": lambda: AnyCrc("CRC64-NVME", 8),
}
DIGEST_SIZES = {name: len(factory().digest()) for name, factory in HASHERS.items()}
CHECKSUM_HEADER = "x-amz-checksum-"
PAYLOAD_HASH_HEADER = "x-amz-content-sha256"
TRAILER_HEADER = "x-amz-trailer"
UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD", "STREAMING-")
UNVERIFIED = ("xxhash64", "xxhash3", "xxhash128")
DEFAULT_ALGORITHM = "crc64nvme"
FULL_OBJECT_ONLY = ("crc64nvme",)  # a CRC64NVME multipart checksum is always of the whole body


def checksum_member(algorithm: str) -> str:
    """`crc64nvme` -> `ChecksumCRC64NVME`, the member S3's API names it by."""
    return "Checksum" + algorithm.upper()


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _decode(value: str, size: int) -> bytes | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        return None
    return raw if len(raw) == size else None


def check_algorithm(name: str | None) -> str | None:
    """A ChecksumAlgorithm member (`CRC32`...) as the lower-case name used here."""
    if name is None:
        return None
    if name.lower() not in HASHERS:
        raise InvalidRequest(f"Checksum algorithm {name} is not supported by the local S3; "
                             f"use one of {', '.join(a.upper() for a in HASHERS)}.")
    return name.lower()


class BodyDigests:
    """The digests expected for one request body and the checksum to keep; feed it the body,
    then `verify()`."""

    def __init__(self, headers: Mapping[str, str], algorithm: str | None = None) -> None:
        """`algorithm`: the checksum to keep when the client sends none (a multipart upload's
        own); CRC64NVME if None."""
        self.sent_any = "content-md5" in headers or any(
            CHECKSUM_HEADER + name in headers for name in (*HASHERS, *UNVERIFIED))
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
        sent = []
        for name, size in DIGEST_SIZES.items():
            header = CHECKSUM_HEADER + name
            if (value := headers.get(header)) is None:
                continue
            raw = _decode(value, size)
            if raw is None:
                raise InvalidRequest(f"Value for {header} header is invalid: it must be the "
                                     f"base64 of a {size}-byte {name.upper()} digest.")
            self._expected[header] = (raw, HASHERS[name](), BadDigest)
            sent.append(name)
        # A checksum that comes after the body (aws-chunked): computed now, compared at the end.
        self._trailing: dict[str, tuple[int, Hasher]] = {}
        if trailer := headers.get(TRAILER_HEADER):
            name = trailer.strip().lower().removeprefix(CHECKSUM_HEADER)
            if name in HASHERS:
                self._trailing[CHECKSUM_HEADER + name] = (DIGEST_SIZES[name], HASHERS[name]())
                sent.append(name)
            elif name not in UNVERIFIED:
                raise InvalidRequest(f"The {TRAILER_HEADER} header announces {trailer!r}, "
                                     f"which is not an {CHECKSUM_HEADER}<algorithm> header.")
        self.client_algorithm = sent[0] if sent else None
        self.algorithm = self.client_algorithm or algorithm or DEFAULT_ALGORITHM
        kept = CHECKSUM_HEADER + self.algorithm
        self._kept = (self._expected[kept][1] if kept in self._expected else
                      self._trailing[kept][1] if kept in self._trailing else
                      HASHERS[self.algorithm]())

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
        hashers = {id(h): h for _, h, _ in self._expected.values()}
        hashers.update({id(h): h for _, h in self._trailing.values()})
        hashers[id(self._kept)] = self._kept
        for hasher in hashers.values():
            hasher.update(data)

    def verify(self) -> None:
        if self._trailing:
            raise InvalidRequest(f"{TRAILER_HEADER} announces a trailing checksum, which only an "
                                 "aws-chunked body can carry.")
        for name, (raw, hasher, error) in self._expected.items():
            if hasher.digest() != raw:
                raise error(f"The {name} you specified did not match the checksum of the body "
                            "that was received.")

    def kept(self) -> dict[str, Any]:
        """The checksum an object written with this body keeps (once verified)."""
        return {checksum_member(self.algorithm): encode(self._kept.digest()),
                "ChecksumType": "FULL_OBJECT"}

    def part_checksum(self) -> str:
        """The kept checksum as a part's (UploadPart answers it; the client lists it back)."""
        return encode(self._kept.digest())
