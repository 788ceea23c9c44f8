"""The local S3: buckets and objects in the store, their bytes as blob files. Two parts are
composed in: multipart uploads (`uploads`, s3.multipart) and the file transfers other local
services use through the `ObjectStore` interface (`files`, s3.transfers).

Every write follows one order: stream the bytes to a temp file, seal it as a blob (a rename),
commit the row that points at it, and only then remove the blob it replaced. A failure before
the commit removes the new blob, so a failed request leaves nothing behind; a crash leaves at
most unreferenced files, which the next start sweeps away.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from sagepipe.config import ACCOUNT_ID, Settings
from sagepipe.errors import AWSError
from sagepipe.s3.blobs import BlobStore, BlobWriter
from sagepipe.s3.checksums import BodyDigests
from sagepipe.s3.conditions import check_preconditions, precondition_failed
from sagepipe.s3.exceptions import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidRequest,
    NotModified,
)
from sagepipe.s3.listing import Page, list_page
from sagepipe.s3.multipart import MultipartUploads
from sagepipe.s3.rules import (
    check_bucket_name,
    check_key,
    check_write,
    no_such_bucket,
    no_such_key,
)
from sagepipe.s3.transfers import LocalTransfers
from sagepipe.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS s3_buckets (
    name TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS s3_objects (
    bucket TEXT NOT NULL REFERENCES s3_buckets(name),
    key TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified REAL NOT NULL,
    attrs TEXT NOT NULL,  -- JSON: what GetObject answers besides the bytes (type, metadata...)
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS s3_uploads (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL REFERENCES s3_buckets(name),
    key TEXT NOT NULL,
    initiated REAL NOT NULL,
    attrs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS s3_parts (
    upload TEXT NOT NULL REFERENCES s3_uploads(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified REAL NOT NULL,
    PRIMARY KEY (upload, number)
);
"""

OWNER_ID = hashlib.sha256(ACCOUNT_ID.encode()).hexdigest()
SCAN_BATCH = 1000
SCAN_FROM = "SELECT * FROM s3_objects WHERE bucket = ? AND key >= ? ORDER BY key LIMIT ?"
SCAN_AFTER = "SELECT * FROM s3_objects WHERE bucket = ? AND key > ? ORDER BY key LIMIT ?"
Attrs = dict[str, Any]  # S3 output member name -> value, e.g. {"ContentType": ..., "Metadata": {}}


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    created: float


@dataclass(frozen=True)
class StoredObject:
    key: str
    blob: str
    size: int
    etag: str
    modified: float
    attrs: Attrs

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredObject:
        return cls(row["key"], row["blob"], row["size"], row["etag"], row["modified"],
                   json.loads(row["attrs"]))


def _claim(lock_path: Path) -> IO[bytes] | None:
    """Hold the S3 directory for this process's lifetime, or None if another process does."""
    handle = open(lock_path, "ab")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


class S3Backend:
    """State and behaviour of the local S3; `responses.S3Service` puts it on the wire."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        store.declare(DDL)
        root = settings.subdir("s3")
        self.blobs = BlobStore(root)
        # Only the process that owns the directory may sweep: another one's temp files are live.
        self._owner = _claim(root / "owner.lock")
        if self._owner is not None:
            self.blobs.sweep(self._referenced_blobs())
        self.uploads = MultipartUploads(self)
        self.files = LocalTransfers(self)

    def _referenced_blobs(self) -> set[str]:
        rows = self.store.query("SELECT blob FROM s3_objects UNION ALL SELECT blob FROM s3_parts")
        return {row["blob"] for row in rows}

    # Buckets ------------------------------------------------------------------------------

    def create_bucket(self, name: str, region: str) -> Bucket:
        check_bucket_name(name)
        bucket = Bucket(name, region, time.time())
        with self.store.tx() as db:
            if db.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (name,)).fetchone():
                raise BucketAlreadyOwnedByYou("Your previous request to create the named bucket "
                                              "succeeded and you already own it.",
                                              BucketName=name)
            db.execute("INSERT INTO s3_buckets(name, region, created) VALUES (?, ?, ?)",
                       (name, region, bucket.created))
        return bucket

    def get_bucket(self, name: str) -> Bucket:
        row = self.store.one("SELECT * FROM s3_buckets WHERE name = ?", name)
        if row is None:
            raise no_such_bucket(name)
        return Bucket(row["name"], row["region"], row["created"])

    def list_buckets(self, *, prefix: str = "", region: str | None = None, after: str = "",
                     limit: int = 10_000) -> list[Bucket]:
        rows = self.store.query(
            "SELECT * FROM s3_buckets WHERE name > ? AND substr(name, 1, ?) = ? "
            "AND (? IS NULL OR region = ?) ORDER BY name LIMIT ?",
            after, len(prefix), prefix, region, region, limit)
        return [Bucket(r["name"], r["region"], r["created"]) for r in rows]

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket, aborting any multipart uploads still open in it."""
        with self.store.tx() as db:
            self.require_bucket(db, name)
            if db.execute("SELECT 1 FROM s3_objects WHERE bucket = ? LIMIT 1",
                          (name,)).fetchone():
                raise BucketNotEmpty("The bucket you tried to delete is not empty; delete its "
                                     "objects first (e.g. `aws s3 rm --recursive`).",
                                     BucketName=name)
            parts = db.execute("SELECT p.blob FROM s3_parts p JOIN s3_uploads u ON "
                               "p.upload = u.id WHERE u.bucket = ?", (name,)).fetchall()
            db.execute("DELETE FROM s3_uploads WHERE bucket = ?", (name,))
            db.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))
        self.blobs.remove(*(row["blob"] for row in parts))

    @staticmethod
    def require_bucket(db: sqlite3.Connection, name: str) -> None:
        if db.execute("SELECT 1 FROM s3_buckets WHERE name = ?", (name,)).fetchone() is None:
            raise no_such_bucket(name)

    # Objects ------------------------------------------------------------------------------

    def writer(self, digests: BodyDigests | None = None) -> BlobWriter:
        """A temp file to stream a body into; pass it to `put_object` or `upload_part`."""
        return self.blobs.writer(digests)

    def put_object(self, bucket: str, key: str, body: BlobWriter, attrs: Attrs, *,
                   if_match: str | None = None,
                   if_none_match: str | None = None) -> StoredObject:
        check_key(key)
        body.verify()
        blob = body.seal()
        return self.commit(bucket, key, blob, body.size, f'"{body.md5.hex()}"', attrs,
                           if_match=if_match, if_none_match=if_none_match)

    def commit(self, bucket: str, key: str, blob: str, size: int, etag: str, attrs: Attrs, *,
                if_match: str | None = None, if_none_match: str | None = None,
                also: Callable[[sqlite3.Connection], list[str]] | None = None) -> StoredObject:
        """Point (bucket, key) at a sealed blob in one transaction (plus `also`'s changes, which
        return blobs to drop); the replaced blob goes after the commit, `blob` if it fails."""
        obj = StoredObject(key, blob, size, etag, time.time(), attrs)
        try:
            with self.store.tx() as db:
                self.require_bucket(db, bucket)
                old = db.execute("SELECT * FROM s3_objects WHERE bucket = ? AND key = ?",
                                 (bucket, key)).fetchone()
                check_write(key, (old["etag"], old["modified"]) if old else None, if_match,
                            if_none_match)
                db.execute(
                    "INSERT INTO s3_objects(bucket, key, blob, size, etag, modified, attrs) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(bucket, key) DO UPDATE SET "
                    "blob = excluded.blob, size = excluded.size, etag = excluded.etag, "
                    "modified = excluded.modified, attrs = excluded.attrs",
                    (bucket, key, blob, size, etag, obj.modified, json.dumps(attrs)))
                garbage = ([old["blob"]] if old else []) + (also(db) if also else [])
        except BaseException:
            self.blobs.remove(blob)
            raise
        self.blobs.remove(*garbage)
        return obj

    def head_object(self, bucket: str, key: str) -> StoredObject:
        row = self.store.one("SELECT * FROM s3_objects WHERE bucket = ? AND key = ?", bucket, key)
        if row is None:
            self.get_bucket(bucket)
            raise no_such_key(key)
        return StoredObject.from_row(row)

    def open_object(self, bucket: str, key: str) -> tuple[StoredObject, BinaryIO]:
        """The object and an open handle on its bytes (the caller closes it)."""
        while True:
            obj = self.head_object(bucket, key)
            with contextlib.suppress(FileNotFoundError):  # overwritten since the lookup
                return obj, self.blobs.open(obj.blob)

    def delete_object(self, bucket: str, key: str) -> None:
        [error] = self.delete_objects(bucket, [key])
        if error is not None:
            raise error

    def delete_objects(self, bucket: str, keys: list[str]) -> list[AWSError | None]:
        """Delete each key (a missing key is deleted already); per key, the error or None."""
        results: list[AWSError | None] = []
        garbage = []
        with self.store.tx() as db:
            self.require_bucket(db, bucket)
            for key in keys:
                try:
                    check_key(key)
                except AWSError as err:
                    results.append(err)
                    continue
                row = db.execute("DELETE FROM s3_objects WHERE bucket = ? AND key = ? "
                                 "RETURNING blob", (bucket, key)).fetchone()
                garbage += [row["blob"]] if row else []
                results.append(None)
        self.blobs.remove(*garbage)
        return results

    def copy_object(self, source: tuple[str, str], bucket: str, key: str,
                    attrs: Attrs | None, conditions: dict[str, Any]) -> StoredObject:
        """Copy `source` (bucket, key) to bucket/key, with the source's attrs if `attrs` is
        None; `conditions` are check_preconditions' keywords, about the source."""
        check_key(key)
        if attrs is None and source == (bucket, key):
            raise InvalidRequest("This copy request is illegal because it is trying to copy an "
                                 "object to itself without changing the object's metadata; pass "
                                 "MetadataDirective=REPLACE with the new metadata.")
        original, handle = self.open_object(*source)
        with handle:
            try:
                check_preconditions(original.etag, original.modified, **conditions)
            except NotModified as err:
                raise precondition_failed(f"x-amz-copy-source-{err.extra['Condition']}") from None
            blob, etag = self._copy_blob(original, handle)
        return self.commit(bucket, key, blob, original.size, etag,
                           original.attrs if attrs is None else attrs)

    def _copy_blob(self, original: StoredObject, handle: BinaryIO) -> tuple[str, str]:
        """A new blob with the original's bytes; a copy is one part, so a multipart ETag is
        replaced by the MD5 of the bytes."""
        if "-" not in original.etag:
            with contextlib.suppress(FileNotFoundError):
                return self.blobs.duplicate(original.blob), original.etag
        body = self.writer()
        try:
            body.copy_from(handle)
            return body.seal(), f'"{body.md5.hex()}"'
        finally:
            body.discard()

    def list_objects(self, bucket: str, *, prefix: str = "", delimiter: str | None = None,
                     after: str = "", max_keys: int = 1000) -> Page[StoredObject]:
        self.get_bucket(bucket)
        return list_page(lambda start, inclusive: self._scan(bucket, start, inclusive),
                         lambda obj: obj.key, prefix=prefix, delimiter=delimiter, after=after,
                         max_keys=max_keys)

    def _scan(self, bucket: str, start: str, inclusive: bool) -> Iterator[StoredObject]:
        """Objects from `start` on, in key order, read in batches."""
        sql = SCAN_FROM if inclusive else SCAN_AFTER
        while True:
            rows = self.store.query(sql, bucket, start, SCAN_BATCH)
            yield from map(StoredObject.from_row, rows)
            if len(rows) < SCAN_BATCH:
                return
            start, sql = rows[-1]["key"], SCAN_AFTER
