"""The local S3: buckets and object versions in the store, their bytes as blob files. Three
parts are composed in: multipart uploads (`uploads`, s3.multipart), bucket notifications
(`notifications`, s3.notifications) and the file transfers other local services use through
the `ObjectStore` interface (`files`, s3.transfers).

Every write follows one order: stream the bytes to a temp file, seal it as a blob (a rename),
commit the row that points at it, and only then remove the blob it replaced, if any. A failure
before the commit removes the new blob, so a failed request leaves nothing behind; a crash
leaves at most unreferenced files, which the next start sweeps away.

Every object is a version (a row of `s3_versions`): while a bucket has never been versioned
each key has one, the `null` version, which a write replaces. With versioning Enabled a write
adds a version with a new id and a delete adds a delete marker; Suspended writes and deletes
replace the `null` version (S3's rules). The key's newest row is flagged `latest`: it is what
GET, HEAD and the listings see. A bucket notification matching a write is recorded in the
same transaction (s3.notifications delivers it after the commit).
"""

from __future__ import annotations

import contextlib
import email.utils
import fcntl
import hashlib
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, BinaryIO

from sagepipe.config import ACCOUNT_ID, Settings
from sagepipe.errors import AWSError, NotEmulated
from sagepipe.protocols.rest_xml import malformed_xml
from sagepipe.s3.blobs import BlobStore, BlobWriter
from sagepipe.s3.checksums import BodyDigests
from sagepipe.s3.conditions import check_preconditions, precondition_failed
from sagepipe.s3.exceptions import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidArgument,
    InvalidRequest,
    MethodNotAllowed,
    NoSuchVersion,
    NotModified,
)
from sagepipe.s3.listing import Page, list_page
from sagepipe.s3.multipart import MultipartUploads
from sagepipe.s3.notifications import Notifications, Notifier, Origin
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
CREATE TABLE IF NOT EXISTS s3_bucket_settings (
    bucket TEXT NOT NULL REFERENCES s3_buckets(name) ON DELETE CASCADE,
    name TEXT NOT NULL,  -- 'versioning', 'notification'
    value TEXT NOT NULL,  -- JSON, in the S3 API's member names
    PRIMARY KEY (bucket, name)
);
CREATE TABLE IF NOT EXISTS s3_versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- write order: a key's newest version is highest
    bucket TEXT NOT NULL REFERENCES s3_buckets(name),
    key TEXT NOT NULL,
    version TEXT NOT NULL,  -- 'null' for a version written while versioning was not Enabled
    latest INTEGER NOT NULL,  -- 1 for the key's current version (an object or a delete marker)
    marker INTEGER NOT NULL,  -- 1 for a delete marker, which has no bytes
    blob TEXT NOT NULL,  -- '' for a delete marker
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified REAL NOT NULL,
    attrs TEXT NOT NULL,  -- JSON: what GetObject answers besides the bytes (type, metadata...)
    UNIQUE (bucket, key, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS s3_current ON s3_versions(bucket, key) WHERE latest = 1;
CREATE INDEX IF NOT EXISTS s3_history ON s3_versions(bucket, key, seq DESC);
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
# A home written before versions existed kept one row per key in s3_objects: each becomes
# that key's null version (else the start's sweep would take its blob for an orphan).
MIGRATE_OBJECTS = """
INSERT INTO s3_versions(bucket, key, version, latest, marker, blob, size, etag, modified, attrs)
    SELECT bucket, key, 'null', 1, 0, blob, size, etag, modified, attrs FROM s3_objects
    ORDER BY bucket, key;
DROP TABLE s3_objects;
"""

OWNER_ID = hashlib.sha256(ACCOUNT_ID.encode()).hexdigest()
NULL_VERSION = "null"
VERSION_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")  # the ids `new_version_id` makes
SCAN_BATCH = 1000
CURRENT = "SELECT * FROM s3_versions WHERE bucket = ? AND key {} ? AND latest = 1 AND " \
          "marker = 0 ORDER BY key LIMIT ?"
HISTORY = "SELECT * FROM s3_versions WHERE bucket = ? AND (key > ? OR (key = ? AND seq < ?)) " \
          "ORDER BY key, seq DESC LIMIT ?"
Attrs = dict[str, Any]  # S3 output member name -> value, e.g. {"ContentType": ..., "Metadata": {}}


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    created: float


@dataclass(frozen=True)
class StoredObject:
    """One version of a key: an object, or a delete marker (no bytes, `marker` set)."""

    key: str
    blob: str
    size: int
    etag: str
    modified: float
    attrs: Attrs
    version: str = NULL_VERSION
    latest: bool = True
    marker: bool = False
    seq: int = 0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredObject:
        return cls(row["key"], row["blob"], row["size"], row["etag"], row["modified"],
                   json.loads(row["attrs"]), row["version"], bool(row["latest"]),
                   bool(row["marker"]), row["seq"])


@dataclass(frozen=True)
class Deletion:
    """What a delete did, as DeleteObject(s) report it."""

    key: str
    version: str | None  # the version removed or the marker added; None if unversioned
    marker: bool  # a delete marker was added, or the version removed was one


def new_version_id() -> str:
    return secrets.token_urlsafe(24)


def check_version_id(version: str) -> None:
    if version != NULL_VERSION and not VERSION_ID.match(version):
        raise InvalidArgument("Invalid version id specified", ArgumentName="versionId",
                              ArgumentValue=version)


def no_such_version(key: str, version: str) -> NoSuchVersion:
    return NoSuchVersion("The specified version does not exist.", Key=key, VersionId=version)


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

    def __init__(self, store: Store, settings: Settings, notifier: Notifier | None = None) -> None:
        self.store = store
        self.settings = settings
        store.declare(DDL)
        with store.tx() as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 's3_objects'").fetchone():
                for statement in MIGRATE_OBJECTS.split(";")[:-1]:
                    db.execute(statement)
        root = settings.subdir("s3")
        self.blobs = BlobStore(root)
        # Only the process that owns the directory may sweep: another one's temp files are live.
        self._owner = _claim(root / "owner.lock")
        if self._owner is not None:
            self.blobs.sweep(self._referenced_blobs())
        self.uploads = MultipartUploads(self)
        self.notifications = Notifications(self, notifier, deliver=self._owner is not None)
        self.files = LocalTransfers(self)

    def _referenced_blobs(self) -> set[str]:
        rows = self.store.query("SELECT blob FROM s3_versions UNION ALL SELECT blob FROM s3_parts")
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
        """Delete a bucket without versions, aborting any multipart uploads still open in it."""
        with self.store.tx() as db:
            self.require_bucket(db, name)
            if db.execute("SELECT 1 FROM s3_versions WHERE bucket = ? LIMIT 1",
                          (name,)).fetchone():
                raise BucketNotEmpty("The bucket you tried to delete is not empty; delete its "
                                     "objects first (e.g. `aws s3 rm --recursive`), and in a "
                                     "versioned bucket every version and delete marker.",
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

    def setting(self, db: sqlite3.Connection, bucket: str, name: str) -> Any:
        """A bucket's setting (None if never set), in the caller's transaction."""
        row = db.execute("SELECT value FROM s3_bucket_settings WHERE bucket = ? AND name = ?",
                         (bucket, name)).fetchone()
        return None if row is None else json.loads(row["value"])

    def put_setting(self, bucket: str, name: str, value: Any) -> None:
        with self.store.tx() as db:
            self.require_bucket(db, bucket)
            db.execute("INSERT OR REPLACE INTO s3_bucket_settings(bucket, name, value) "
                       "VALUES (?, ?, ?)", (bucket, name, json.dumps(value)))

    def get_setting(self, bucket: str, name: str) -> Any:
        with self.store.tx() as db:
            self.require_bucket(db, bucket)
            return self.setting(db, bucket, name)

    # Versioning ---------------------------------------------------------------------------

    def put_bucket_versioning(self, bucket: str, status: str | None,
                              mfa_delete: str | None = None) -> None:
        """Enabled or Suspended; a bucket never goes back to unversioned (S3's rule)."""
        if mfa_delete == "Enabled":
            raise NotEmulated("sagepipe's local S3 does not emulate MFA delete; leave MFADelete "
                              "out or Disabled.")
        if status not in ("Enabled", "Suspended"):
            raise malformed_xml("<Status> must be Enabled or Suspended.")
        self.put_setting(bucket, "versioning", status)

    def get_bucket_versioning(self, bucket: str) -> str | None:
        return self.get_setting(bucket, "versioning")

    # Objects ------------------------------------------------------------------------------

    def writer(self, digests: BodyDigests | None = None) -> BlobWriter:
        """A temp file to stream a body into; pass it to `put_object` or `upload_part`."""
        return self.blobs.writer(digests)

    def put_object(self, bucket: str, key: str, body: BlobWriter, attrs: Attrs, *,
                   if_match: str | None = None, if_none_match: str | None = None,
                   event: str = "ObjectCreated:Put",
                   origin: Origin | None = None) -> StoredObject:
        check_key(key)
        body.verify()
        attrs = {**attrs, **body.checksum()}
        blob = body.seal()
        return self.commit(bucket, key, blob, body.size, f'"{body.md5.hex()}"', attrs,
                           if_match=if_match, if_none_match=if_none_match, event=event,
                           origin=origin)

    def commit(self, bucket: str, key: str, blob: str, size: int, etag: str, attrs: Attrs, *,
               if_match: str | None = None, if_none_match: str | None = None,
               also: Callable[[sqlite3.Connection], list[str]] | None = None,
               event: str = "ObjectCreated:Put", origin: Origin | None = None) -> StoredObject:
        """Make a sealed blob the key's new version in one transaction (plus `also`'s changes,
        which return blobs to drop); a replaced blob goes after the commit, `blob` if it fails."""
        obj = StoredObject(key, blob, size, etag, time.time(), attrs)
        try:
            with self.store.tx() as db:
                self.require_bucket(db, bucket)
                current = self._current(db, bucket, key)
                live = current if current and not current.marker else None
                check_write(key, (live.etag, live.modified) if live else None, if_match,
                            if_none_match)
                obj, garbage = self._add_version(db, bucket, obj)
                garbage += also(db) if also else []
                self.notifications.record(db, bucket, event, obj, origin)
        except BaseException:
            self.blobs.remove(blob)
            raise
        self.blobs.remove(*garbage)
        self.notifications.wake()
        return obj

    def _add_version(self, db: sqlite3.Connection, bucket: str,
                     obj: StoredObject) -> tuple[StoredObject, list[str]]:
        """Insert `obj` (an object or a marker) as the key's latest version, in the version
        the bucket's state gives it; the blobs of what it replaced."""
        enabled = self.setting(db, bucket, "versioning") == "Enabled"
        version = new_version_id() if enabled else NULL_VERSION
        garbage = []
        if not enabled:  # the null version, wherever it is in the history, is replaced
            old = db.execute("DELETE FROM s3_versions WHERE bucket = ? AND key = ? AND "
                             "version = ? RETURNING blob", (bucket, obj.key, version)).fetchone()
            garbage += [old["blob"]] if old and old["blob"] else []
        db.execute("UPDATE s3_versions SET latest = 0 WHERE bucket = ? AND key = ? AND latest = 1",
                   (bucket, obj.key))
        seq = db.execute(
            "INSERT INTO s3_versions(bucket, key, version, latest, marker, blob, size, etag, "
            "modified, attrs) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?) RETURNING seq",
            (bucket, obj.key, version, int(obj.marker), obj.blob, obj.size, obj.etag,
             obj.modified, json.dumps(obj.attrs))).fetchone()["seq"]
        return replace(obj, version=version, seq=seq), garbage

    @staticmethod
    def _current(db: sqlite3.Connection, bucket: str, key: str) -> StoredObject | None:
        row = db.execute("SELECT * FROM s3_versions WHERE bucket = ? AND key = ? AND latest = 1",
                         (bucket, key)).fetchone()
        return None if row is None else StoredObject.from_row(row)

    def find_version(self, bucket: str, key: str, version: str | None) -> StoredObject:
        """The key's latest version, or the one named, which may be a delete marker;
        NoSuchKey / NoSuchVersion if there is none."""
        if version is None:
            row = self.store.one("SELECT * FROM s3_versions WHERE bucket = ? AND key = ? AND "
                                 "latest = 1", bucket, key)
        else:
            check_version_id(version)
            row = self.store.one("SELECT * FROM s3_versions WHERE bucket = ? AND key = ? AND "
                                 "version = ?", bucket, key, version)
        if row is None:
            self.get_bucket(bucket)
            raise no_such_key(key) if version is None else no_such_version(key, version)
        return StoredObject.from_row(row)

    def head_object(self, bucket: str, key: str, version: str | None = None) -> StoredObject:
        """The object GET would read: a delete marker answers 404 (the latest) or 405 (named
        by its id), with the marker's headers, as S3 does."""
        obj = self.find_version(bucket, key, version)
        if obj.marker and version is None:
            raise no_such_key(key, **marker_headers(obj.version, obj.modified))
        if obj.marker:
            raise MethodNotAllowed("The specified method is not allowed against this resource.",
                                   Method="GET", ResourceType="DeleteMarker",
                                   **marker_headers(obj.version, obj.modified))
        return obj

    def open_object(self, bucket: str, key: str,
                    version: str | None = None) -> tuple[StoredObject, BinaryIO]:
        """The object and an open handle on its bytes (the caller closes it)."""
        while True:
            obj = self.head_object(bucket, key, version)
            with contextlib.suppress(FileNotFoundError):  # overwritten since the lookup
                return obj, self.blobs.open(obj.blob)

    def delete_object(self, bucket: str, key: str, version: str | None = None,
                      origin: Origin | None = None) -> Deletion:
        [outcome] = self.delete_objects(bucket, [(key, version)], origin)
        if isinstance(outcome, AWSError):
            raise outcome
        return outcome

    def delete_objects(self, bucket: str, targets: list[tuple[str, str | None]],
                       origin: Origin | None = None) -> list[Deletion | AWSError]:
        """Delete each (key, version or None); a missing key or version is deleted already.
        Per target, what was done or the error."""
        results: list[Deletion | AWSError] = []
        garbage: list[str] = []
        with self.store.tx() as db:
            self.require_bucket(db, bucket)
            for key, version in targets:
                try:
                    check_key(key)
                    if version is not None:
                        check_version_id(version)
                        results.append(self._remove_version(db, bucket, key, version, garbage,
                                                            origin))
                    else:
                        results.append(self._delete_current(db, bucket, key, garbage, origin))
                except AWSError as err:
                    results.append(err)
        self.blobs.remove(*garbage)
        self.notifications.wake()
        return results

    def _delete_current(self, db: sqlite3.Connection, bucket: str, key: str,
                        garbage: list[str], origin: Origin | None) -> Deletion:
        """DeleteObject without a version: removes the object of an unversioned bucket, else
        adds a delete marker (replacing the null version while Suspended)."""
        state = self.setting(db, bucket, "versioning")
        if state is None:
            row = db.execute("DELETE FROM s3_versions WHERE bucket = ? AND key = ? RETURNING *",
                             (bucket, key)).fetchone()
            if row is not None:
                garbage.append(row["blob"])
                self.notifications.record(db, bucket, "ObjectRemoved:Delete",
                                          StoredObject.from_row(row), origin)
            return Deletion(key, None, False)
        marker, replaced = self._add_version(
            db, bucket, StoredObject(key, "", 0, "", time.time(), {}, marker=True))
        garbage += replaced
        self.notifications.record(db, bucket, "ObjectRemoved:DeleteMarkerCreated", marker,
                                  origin)
        return Deletion(key, marker.version, True)

    def _remove_version(self, db: sqlite3.Connection, bucket: str, key: str, version: str,
                        garbage: list[str], origin: Origin | None) -> Deletion:
        """Delete one version for good; the next newest becomes the latest."""
        row = db.execute("DELETE FROM s3_versions WHERE bucket = ? AND key = ? AND version = ? "
                         "RETURNING *", (bucket, key, version)).fetchone()
        if row is None:
            return Deletion(key, version, False)
        removed = StoredObject.from_row(row)
        if removed.latest:
            db.execute("UPDATE s3_versions SET latest = 1 WHERE seq = (SELECT max(seq) FROM "
                       "s3_versions WHERE bucket = ? AND key = ?)", (bucket, key))
        if not removed.marker:
            garbage.append(removed.blob)
        self.notifications.record(db, bucket, "ObjectRemoved:Delete", removed, origin)
        return Deletion(key, version, removed.marker)

    def copy_object(self, source: tuple[str, str, str | None], bucket: str, key: str,
                    attrs: Attrs | None, tags: list[dict[str, str]] | None,
                    conditions: dict[str, Any],
                    origin: Origin | None = None) -> tuple[StoredObject, StoredObject]:
        """Copy `source` (bucket, key, version or None) to bucket/key, with the source's attrs
        if `attrs` is None and the source's tags if `tags` is None; `conditions` are
        check_preconditions' keywords, about the source. The source version and the new one."""
        check_key(key)
        if attrs is None and source[:2] == (bucket, key) and source[2] is None:
            raise InvalidRequest("This copy request is illegal because it is trying to copy an "
                                 "object to itself without changing the object's metadata; pass "
                                 "MetadataDirective=REPLACE with the new metadata.")
        original, handle = self.open_copy_source(*source, conditions)
        with handle:
            blob, etag, checksum = self._copy_blob(original, handle)
        kept = {name: value for name, value in (original.attrs if attrs is None else attrs)
                .items() if name != "TagSet" and not name.startswith("Checksum")}
        tags = original.attrs.get("TagSet", []) if tags is None else tags
        new = self.commit(bucket, key, blob, original.size, etag,
                          {**kept, **checksum, **({"TagSet": tags} if tags else {})},
                          event="ObjectCreated:Copy", origin=origin)
        return original, new

    def open_copy_source(self, bucket: str, key: str, version: str | None,
                         conditions: dict[str, Any]) -> tuple[StoredObject, BinaryIO]:
        """A copy's source, open, once its x-amz-copy-source-if-* `conditions` hold; S3 refuses
        a delete marker named by its id with a 400."""
        try:
            original, handle = self.open_object(bucket, key, version)
        except MethodNotAllowed:
            raise InvalidRequest("The source of a copy request may not specifically refer to a "
                                 "delete marker by version id.") from None
        try:
            check_preconditions(original.etag, original.modified, **conditions)
        except NotModified as err:
            handle.close()
            raise precondition_failed(f"x-amz-copy-source-{err.extra['Condition']}") from None
        except BaseException:
            handle.close()
            raise
        return original, handle

    def _copy_blob(self, original: StoredObject,
                   handle: BinaryIO) -> tuple[str, str, Attrs]:
        """A new blob with the original's bytes, its ETag and checksum; a copy is one part, so
        a multipart ETag and checksum are replaced by those of the bytes."""
        if "-" not in original.etag:
            with contextlib.suppress(FileNotFoundError):
                return (self.blobs.duplicate(original.blob), original.etag,
                        checksum_of(original.attrs))
        body = self.writer()
        try:
            body.copy_from(handle)
            return body.seal(), f'"{body.md5.hex()}"', body.checksum()
        finally:
            body.discard()

    def update_attrs(self, bucket: str, key: str, version: str | None,
                     change: Callable[[Attrs], Attrs], event: str,
                     origin: Origin | None = None) -> StoredObject:
        """Change what a version keeps besides its bytes (its tags) in place: no new version."""
        with self.store.tx() as db:
            self.require_bucket(db, bucket)
            obj = self.head_object(bucket, key, version)
            obj = replace(obj, attrs=change(obj.attrs))
            db.execute("UPDATE s3_versions SET attrs = ? WHERE seq = ?",
                       (json.dumps(obj.attrs), obj.seq))
            self.notifications.record(db, bucket, event, obj, origin)
        self.notifications.wake()
        return obj

    # Listing ------------------------------------------------------------------------------

    def list_objects(self, bucket: str, *, prefix: str = "", delimiter: str | None = None,
                     after: str = "", max_keys: int = 1000) -> Page[StoredObject]:
        """Current objects (the latest version of each key, unless a delete marker)."""
        self.get_bucket(bucket)
        return list_page(lambda start, inclusive: self._scan(bucket, start, inclusive),
                         lambda obj: obj.key, prefix=prefix, delimiter=delimiter, after=after,
                         max_keys=max_keys)

    def _scan(self, bucket: str, start: str, inclusive: bool) -> Iterator[StoredObject]:
        """Current objects from `start` on, in key order, read in batches."""
        sql = CURRENT.format(">=" if inclusive else ">")
        while True:
            rows = self.store.query(sql, bucket, start, SCAN_BATCH)
            yield from map(StoredObject.from_row, rows)
            if len(rows) < SCAN_BATCH:
                return
            start, sql = rows[-1]["key"], CURRENT.format(">")

    def list_versions(self, bucket: str, *, prefix: str = "", delimiter: str | None = None,
                      key_marker: str = "", version_marker: str | None = None,
                      max_keys: int = 1000) -> Page[StoredObject]:
        """Every version and delete marker, by key, newest first within a key; after the
        version `version_marker` of `key_marker`, or after all of `key_marker`'s."""
        self.get_bucket(bucket)
        resume = None
        if version_marker:
            check_version_id(version_marker)
            row = self.store.one("SELECT seq FROM s3_versions WHERE bucket = ? AND key = ? AND "
                                 "version = ?", bucket, key_marker, version_marker)
            if row is None:
                raise InvalidArgument("Invalid version id specified: the version-id-marker is "
                                      "not a version of the key-marker.",
                                      ArgumentName="version-id-marker",
                                      ArgumentValue=version_marker)
            resume = row["seq"]

        def scan(start: str, inclusive: bool) -> Iterator[StoredObject]:
            if start == key_marker and resume is not None and not inclusive:
                return self._scan_history(bucket, start, resume)
            return self._scan_history(bucket, start, 0 if not inclusive else None)

        return list_page(scan, lambda obj: obj.key, prefix=prefix, delimiter=delimiter,
                         after=key_marker, max_keys=max_keys)

    def _scan_history(self, bucket: str, key: str, below: int | None) -> Iterator[StoredObject]:
        """Versions from (key, seq < below) on (`below` None: all of `key`'s; 0: none of
        them), by key then newest first, read in batches."""
        below = 2**62 if below is None else below
        while True:
            rows = self.store.query(HISTORY, bucket, key, key, below, SCAN_BATCH)
            yield from map(StoredObject.from_row, rows)
            if len(rows) < SCAN_BATCH:
                return
            key, below = rows[-1]["key"], rows[-1]["seq"]


def marker_headers(version: str, modified: float) -> dict[str, str]:
    """What S3 answers about a delete marker, as headers of its 404 or 405 (an S3 error's
    extra fields named like headers travel as headers: responses.S3Service.error_response)."""
    return {"x-amz-delete-marker": "true", "x-amz-version-id": version,
            "Last-Modified": email.utils.formatdate(modified, usegmt=True)}


def checksum_of(attrs: Attrs) -> Attrs:
    """The checksum members an object keeps (ChecksumCRC32..., ChecksumType)."""
    return {name: value for name, value in attrs.items() if name.startswith("Checksum")}
