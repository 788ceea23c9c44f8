"""Multipart uploads: parts stored as blobs of their own, joined into one object on
completion (ETag: the MD5 of the parts' MD5s, then `-<count>`; checksum: the upload's algorithm,
COMPOSITE or FULL_OBJECT, computed while the parts are joined, see s3.checksums)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, BinaryIO

from sagepipe.protocols.rest_xml import malformed_xml
from sagepipe.s3.blobs import CHUNK, BlobWriter
from sagepipe.s3.checksums import (
    DEFAULT_ALGORITHM,
    FULL_OBJECT_ONLY,
    HASHERS,
    BodyDigests,
    checksum_member,
    encode,
)
from sagepipe.s3.exceptions import BadDigest, EntityTooSmall, InvalidPartOrder, InvalidRequest
from sagepipe.s3.rules import (
    MAX_PART_NUMBER,
    MIN_PART_SIZE,
    check_key,
    check_part_number,
    invalid_part,
    no_such_upload,
)

if TYPE_CHECKING:
    from sagepipe.s3.models import Attrs, S3Backend, StoredObject
    from sagepipe.s3.notifications import Origin

# What CreateMultipartUpload keeps for the completion only, not for the object.
UPLOAD_ONLY = ("ChecksumAlgorithm", "ChecksumType")


@dataclass(frozen=True)
class Upload:
    id: str
    bucket: str
    key: str
    initiated: float
    attrs: Attrs


@dataclass(frozen=True)
class Part:
    number: int
    blob: str
    size: int
    etag: str
    modified: float


def multipart_etag(parts: list[Part]) -> str:
    digest = hashlib.md5(b"".join(bytes.fromhex(p.etag.strip('"')) for p in parts),
                         usedforsecurity=False)
    return f'"{digest.hexdigest()}-{len(parts)}"'


class MultipartUploads:
    """The multipart part of the local S3 (`S3Backend.uploads`): uploads and their parts in the
    backend's store and blob files, completed through the backend's `commit`."""

    def __init__(self, objects: S3Backend) -> None:
        self.objects = objects
        self.store = objects.store
        self.blobs = objects.blobs

    def create_upload(self, bucket: str, key: str, attrs: Attrs) -> Upload:
        check_key(key)
        upload = Upload(secrets.token_urlsafe(48), bucket, key, time.time(), attrs)
        with self.store.tx() as db:
            self.objects.require_bucket(db, bucket)
            db.execute("INSERT INTO s3_uploads(id, bucket, key, initiated, attrs) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (upload.id, bucket, key, upload.initiated, json.dumps(attrs)))
        return upload

    def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        row = self.store.one("SELECT * FROM s3_uploads WHERE id = ? AND bucket = ? AND key = ?",
                             upload_id, bucket, key)
        if row is None:
            self.objects.get_bucket(bucket)
            raise no_such_upload(upload_id)
        return Upload(row["id"], row["bucket"], row["key"], row["initiated"],
                      json.loads(row["attrs"]))

    def upload_part(self, upload: Upload, number: int, body: BlobWriter) -> Part:
        check_part_number(number)
        body.verify()
        declared = upload.attrs.get("ChecksumAlgorithm")
        if declared and body.digests.algorithm != declared.lower():
            raise InvalidRequest("Checksum Type mismatch occurred, expected checksum Type: "
                                 f"{declared.lower()}, actual checksum Type: "
                                 f"{body.digests.algorithm}")
        part = Part(number, body.seal(), body.size, f'"{body.md5.hex()}"', time.time())
        try:
            with self.store.tx() as db:
                if db.execute("SELECT 1 FROM s3_uploads WHERE id = ?",
                              (upload.id,)).fetchone() is None:
                    raise no_such_upload(upload.id)
                old = db.execute("SELECT blob FROM s3_parts WHERE upload = ? AND number = ?",
                                 (upload.id, number)).fetchone()
                db.execute("INSERT OR REPLACE INTO s3_parts(upload, number, blob, size, etag, "
                           "modified) VALUES (?, ?, ?, ?, ?, ?)",
                           (upload.id, number, part.blob, part.size, part.etag, part.modified))
        except BaseException:
            self.blobs.remove(part.blob)
            raise
        if old:
            self.blobs.remove(old["blob"])
        return part

    def copy_part(self, upload: Upload, number: int, source: BinaryIO, first: int,
                  length: int) -> tuple[Part, BlobWriter]:
        """UploadPartCopy: `length` bytes of an open object from `first` on, as part `number`;
        the part and the body it was written through (its checksum)."""
        body = self.objects.writer(BodyDigests({}, upload_checksum(upload.attrs)[0]))
        try:
            source.seek(first)
            while length > 0 and (chunk := source.read(min(CHUNK, length))):
                body.write(chunk)
                length -= len(chunk)
            return self.upload_part(upload, number, body), body
        finally:
            body.discard()

    def list_parts(self, upload: Upload, *, after: int = 0,
                   max_parts: int = 1000) -> tuple[list[Part], bool]:
        rows = self.store.query("SELECT * FROM s3_parts WHERE upload = ? AND number > ? "
                                "ORDER BY number LIMIT ?", upload.id, after, max_parts + 1)
        parts = [Part(r["number"], r["blob"], r["size"], r["etag"], r["modified"]) for r in rows]
        return parts[:max_parts], len(parts) > max_parts

    def complete_upload(self, upload: Upload, chosen: list[tuple[int, str, dict[str, str]]],
                        *, if_match: str | None = None, if_none_match: str | None = None,
                        whole: str | None = None, origin: Origin | None = None) -> StoredObject:
        """Join the chosen (part number, ETag, checksum members) parts into the object; other
        parts are dropped. A part's listed checksum must be its own, and `whole`, the
        FULL_OBJECT checksum the client computed (if it sent one), the object's."""
        parts = self._chosen_parts(upload, [(number, etag) for number, etag, _ in chosen])
        algorithm, kind = upload_checksum(upload.attrs)
        body = self.objects.writer(BodyDigests({}, algorithm))
        part_digests = []
        try:
            with contextlib.ExitStack() as stack:
                try:
                    handles = [stack.enter_context(self.blobs.open(p.blob)) for p in parts]
                except FileNotFoundError:  # re-uploaded since the check: ETags changed
                    raise invalid_part() from None
                for (number, etag, listed), handle in zip(chosen, handles, strict=True):
                    part = HASHERS[algorithm]()
                    while chunk := handle.read(CHUNK):
                        body.write(chunk)
                        part.update(chunk)
                    expected = listed.get(checksum_member(algorithm))
                    if expected is not None and expected != encode(part.digest()):
                        raise invalid_part(number, etag)
                    part_digests.append(part.digest())
            blob = body.seal()
        finally:
            body.discard()
        checksum = body.checksum()
        if whole is not None and whole != checksum[checksum_member(algorithm)]:
            self.blobs.remove(blob)
            raise BadDigest(f"The {checksum_member(algorithm)} you specified did not match the "
                            "checksum of the object the parts make.")
        if kind == "COMPOSITE":
            composite = HASHERS[algorithm]()
            composite.update(b"".join(part_digests))
            checksum = {checksum_member(algorithm): f"{encode(composite.digest())}-{len(parts)}",
                        "ChecksumType": kind}
        attrs = {name: value for name, value in upload.attrs.items()
                 if name not in UPLOAD_ONLY}
        return self.objects.commit(upload.bucket, upload.key, blob, body.size,
                                   multipart_etag(parts), {**attrs, **checksum},
                                   if_match=if_match, if_none_match=if_none_match,
                                   also=partial(_close, upload_id=upload.id),
                                   event="ObjectCreated:CompleteMultipartUpload", origin=origin)

    def _chosen_parts(self, upload: Upload, chosen: list[tuple[int, str]]) -> list[Part]:
        if not chosen:
            raise malformed_xml("list at least one <Part>.")
        numbers = [number for number, _ in chosen]
        if numbers != sorted(set(numbers)):
            raise InvalidPartOrder("The list of parts was not in ascending order. Parts must be "
                                   "ordered by part number, each listed once.")
        stored, _ = self.list_parts(upload, max_parts=MAX_PART_NUMBER)
        by_number = {p.number: p for p in stored}
        parts = []
        for number, etag in chosen:
            part = by_number.get(number)
            if part is None or part.etag.strip('"') != etag.strip('"'):
                raise invalid_part(number, etag)
            parts.append(part)
        for part in parts[:-1]:
            if part.size < MIN_PART_SIZE:
                raise EntityTooSmall("Your proposed upload is smaller than the minimum allowed "
                                     "object size: every part but the last must be at least "
                                     f"{MIN_PART_SIZE} bytes.", ProposedSize=str(part.size),
                                     MinSizeAllowed=str(MIN_PART_SIZE),
                                     PartNumber=str(part.number), ETag=part.etag)
        return parts

    def abort_upload(self, upload: Upload) -> None:
        with self.store.tx() as db:
            blobs = _close(db, upload.id)
        self.blobs.remove(*blobs)


def upload_checksum(attrs: Attrs) -> tuple[str, str]:
    """The (algorithm, type) of an upload's object: as CreateMultipartUpload asked (COMPOSITE by
    default, FULL_OBJECT for CRC64NVME), else S3's default, a FULL_OBJECT CRC64NVME."""
    algorithm = (attrs.get("ChecksumAlgorithm") or DEFAULT_ALGORITHM).lower()
    default = "FULL_OBJECT" if algorithm in FULL_OBJECT_ONLY else "COMPOSITE"
    return algorithm, attrs.get("ChecksumType") or default


def _close(db: sqlite3.Connection, upload_id: str) -> list[str]:
    """Delete an upload and its parts (in the caller's transaction); the parts' blobs."""
    blobs = db.execute("DELETE FROM s3_parts WHERE upload = ? RETURNING blob",
                       (upload_id,)).fetchall()
    if db.execute("DELETE FROM s3_uploads WHERE id = ?", (upload_id,)).rowcount == 0:
        raise no_such_upload(upload_id)
    return [row["blob"] for row in blobs]
