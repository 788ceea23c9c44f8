"""Object bytes on disk: immutable files named by opaque ids, written through temp files.

A blob is written to `tmp/` (its MD5, its checksum and any client-sent digests computed on the
way), sealed
by a rename into `blobs/`, and only then referenced by a committed row. It is never modified
afterwards, so a reader's open handle keeps the bytes it started with even if the object is
overwritten or deleted meanwhile. Names are random hex ids, never keys.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from sagepipe.s3.checksums import BodyDigests

CHUNK = 1 << 20


class BlobWriter:
    """A blob being written: a temp file that `seal()` turns into a blob, `discard()` removes."""

    def __init__(self, store: BlobStore, digests: BodyDigests | None) -> None:
        self.id = uuid.uuid4().hex
        self.size = 0
        self._store = store
        self._temp = store.tmp / self.id
        self._file: BinaryIO | None = open(self._temp, "xb")  # noqa: SIM115 - closed on seal/discard
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.digests = digests if digests is not None else BodyDigests({})

    def write(self, data: bytes) -> None:
        assert self._file is not None, "write after seal"
        self._file.write(data)
        self._md5.update(data)
        self.digests.update(data)
        self.size += len(data)

    def copy_from(self, source: BinaryIO) -> None:
        while chunk := source.read(CHUNK):
            self.write(chunk)

    @property
    def md5(self) -> bytes:
        return self._md5.digest()

    def verify(self) -> None:
        """Raise BadDigest unless the body matches every digest the client sent."""
        self.digests.verify()

    def checksum(self) -> dict[str, Any]:
        """The checksum members the object written with this body keeps."""
        return self.digests.kept()

    def seal(self) -> str:
        """Move the finished file into `blobs/`; the caller owns the blob from here on."""
        assert self._file is not None, "sealed twice"
        self._file.close()
        self._file = None
        os.replace(self._temp, self._store.path(self.id))
        return self.id

    def discard(self) -> None:
        """Remove the temp file if the blob was never sealed (safe to call in any case)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._temp.unlink(missing_ok=True)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        return self.blobs / blob_id

    def writer(self, digests: BodyDigests | None = None) -> BlobWriter:
        return BlobWriter(self, digests)

    def open(self, blob_id: str) -> BinaryIO:
        return open(self.path(blob_id), "rb")

    def duplicate(self, blob_id: str) -> str:
        """A new blob with the same bytes: a hard link (blobs never change), else a copy."""
        new_id = uuid.uuid4().hex
        try:
            os.link(self.path(blob_id), self.path(new_id))
        except OSError:
            temp = self.tmp / new_id
            shutil.copyfile(self.path(blob_id), temp)
            os.replace(temp, self.path(new_id))
        return new_id

    def remove(self, *blob_ids: str) -> None:
        for blob_id in blob_ids:
            self.path(blob_id).unlink(missing_ok=True)

    def sweep(self, referenced: set[str]) -> int:
        """Delete what a crash left behind: every temp file and every unreferenced blob."""
        removed = 0
        for folder, keep in ((self.tmp, set()), (self.blobs, referenced)):
            for entry in folder.iterdir():
                if entry.name not in keep:
                    entry.unlink(missing_ok=True)
                    removed += 1
        return removed
