"""Multipart uploads: parts stored as blobs of their own, joined into one object on
completion (ETag: the MD5 of the parts' MD5s, then `-<count>`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from sagepipe.protocols.rest_xml import malformed_xml
from sagepipe.s3.blobs import BlobWriter
from sagepipe.s3.exceptions import EntityTooSmall, InvalidPartOrder
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

    def list_parts(self, upload: Upload, *, after: int = 0,
                   max_parts: int = 1000) -> tuple[list[Part], bool]:
        rows = self.store.query("SELECT * FROM s3_parts WHERE upload = ? AND number > ? "
                                "ORDER BY number LIMIT ?", upload.id, after, max_parts + 1)
        parts = [Part(r["number"], r["blob"], r["size"], r["etag"], r["modified"]) for r in rows]
        return parts[:max_parts], len(parts) > max_parts

    def complete_upload(self, upload: Upload, chosen: list[tuple[int, str]], *,
                        if_match: str | None = None,
                        if_none_match: str | None = None) -> StoredObject:
        """Join the chosen (part number, ETag) parts into the object; other parts are dropped."""
        parts = self._chosen_parts(upload, chosen)
        body = self.objects.writer()
        try:
            with contextlib.ExitStack() as stack:
                try:
                    handles = [stack.enter_context(self.blobs.open(p.blob)) for p in parts]
                except FileNotFoundError:  # re-uploaded since the check: ETags changed
                    raise invalid_part() from None
                for handle in handles:
                    body.copy_from(handle)
            blob = body.seal()
        finally:
            body.discard()

        return self.objects.commit(upload.bucket, upload.key, blob, body.size,
                                   multipart_etag(parts), upload.attrs, if_match=if_match,
                                   if_none_match=if_none_match,
                                   also=partial(_close, upload_id=upload.id))

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


def _close(db: sqlite3.Connection, upload_id: str) -> list[str]:
    """Delete an upload and its parts (in the caller's transaction); the parts' blobs."""
    blobs = db.execute("DELETE FROM s3_parts WHERE upload = ? RETURNING blob",
                       (upload_id,)).fetchall()
    if db.execute("DELETE FROM s3_uploads WHERE id = ?", (upload_id,)).rowcount == 0:
        raise no_such_upload(upload_id)
    return [row["blob"] for row in blobs]
