"""Local container images: a directory registered under the URI the AWS build would push.

As in SageMaker's bring-your-own-container convention, an image holds executables (`train`,
`serve`, and whatever a processing job names as its entry point) that are run with the image
directory as working directory and at the front of PATH.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from sagepipe.errors import ValidationException
from sagepipe.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS images (
    uri TEXT PRIMARY KEY,
    directory TEXT NOT NULL,
    registered_at REAL NOT NULL
);
"""

# [registry/]repository[:tag|@digest], as ECR or any OCI registry names an image.
IMAGE_URI = re.compile(
    r"^([a-z0-9.-]+(:\d+)?/)?[a-z0-9._/-]+(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})?$")


class UnknownImage(LookupError):
    pass


class ImageRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.declare(DDL)

    def register(self, directory: Path, uri: str) -> Path:
        directory = directory.resolve()
        if not IMAGE_URI.match(uri):
            raise ValidationException(f"{uri!r} is not an image URI like "
                                      "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag")
        if not directory.is_dir():
            raise ValidationException(f"{directory} is not a directory")
        entry_points = [n for n in ("train", "serve") if (directory / n).is_file()]
        if not entry_points:
            raise ValidationException(f"{directory} has neither a `train` nor a `serve` executable")
        with self.store.tx() as db:
            # The time comes from Python: unixepoch('subsec') needs SQLite >= 3.42.
            db.execute("INSERT INTO images(uri, directory, registered_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(uri) DO UPDATE SET directory=excluded.directory, "
                       "registered_at=excluded.registered_at",
                       (uri, str(directory), time.time()))
        return directory

    def resolve(self, uri: str) -> Path:
        row = self.store.one("SELECT directory FROM images WHERE uri = ?", uri)
        if row is None:
            raise UnknownImage(f"Image {uri} is not registered with the local AWS; register it "
                               f"with `sagepipe image register DIR --uri {uri}`.")
        return Path(row["directory"])

    def all(self) -> list[tuple[str, str]]:
        return [(r["uri"], r["directory"]) for r in
                self.store.query("SELECT uri, directory FROM images ORDER BY uri")]

    def forget(self, uri: str) -> None:
        """Unregister `uri` (the image directory itself is left as it is)."""
        with self.store.tx() as db:
            db.execute("DELETE FROM images WHERE uri = ?", (uri,))
