"""Local container images: a directory registered under the URI the AWS build would push.

As in SageMaker's bring-your-own-container convention, an image holds executables (`train`,
`serve`, and whatever a processing job names as its entry point). A directory with a
Dockerfile is built from it (build.py: its files at their COPY destinations, its pip installs
in a venv of its own, its ENV, WORKDIR and ENTRYPOINT); one without is run as it is, from the
directory (working directory and first on PATH) on the local AWS's own interpreter.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagepipe.errors import ValidationException
from sagepipe.images.build import BuildError, build
from sagepipe.namespaces import isolation
from sagepipe.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS images (
    uri TEXT PRIMARY KEY,
    directory TEXT NOT NULL,
    registered_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS image_builds (
    uri TEXT PRIMARY KEY REFERENCES images(uri) ON DELETE CASCADE,
    config TEXT NOT NULL
);
"""

# [registry/]repository[:tag|@digest], as ECR or any OCI registry names an image.
IMAGE_URI = re.compile(
    r"^([a-z0-9.-]+(:\d+)?/)?[a-z0-9._/-]+(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})?$")
# What SageMaker appends to `docker run IMAGE`: the image's ENTRYPOINT comes before it.
SAGEMAKER_COMMANDS = (["train"], ["serve"])


class UnknownImage(LookupError):
    pass


@dataclass(frozen=True)
class Image:
    """A registered image, as a job or model server is run from it."""

    uri: str
    directory: Path  # what was registered: the build context
    layer: Path | None = None  # its files at their paths in the image; None: no Dockerfile
    python: Path | None = None  # its venv's bin directory; None: the local AWS's interpreter
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    entrypoint: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def interpreter_bin(self) -> Path:
        return self.python or Path(sys.executable).parent

    def command(self, argv: list[str]) -> list[str]:
        """What runs for `docker run IMAGE argv` (SageMaker's `train`, `serve`)."""
        return [*self.entrypoint, *argv] if self.entrypoint and argv in SAGEMAKER_COMMANDS \
            else argv

    def host_path(self, path: str) -> str:
        """Where an image path is on the host (without a mount namespace to show it there)."""
        if self.layer is None or not path.startswith("/"):
            return path
        candidate = self.layer / path.lstrip("/")
        return str(candidate) if candidate.exists() else path

    def runs(self, command: str) -> bool:
        """Whether `docker run IMAGE command` finds something to run: an ENTRYPOINT, or
        `command` on the image's PATH (in its layer, or on the host)."""
        return bool(self.entrypoint) or any(
            (Path(self.host_path(directory)) / command).is_file()
            for directory in self.env.get("PATH", "").split(":") if directory)


class ImageRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.declare(DDL)

    def register(self, directory: Path, uri: str, dockerfile: Path | None = None,
                 build_args: dict[str, str] | None = None) -> Image:
        """Register `directory` as `uri`, built from its Dockerfile (or `dockerfile`) when it
        has one. ValidationException for a bad URI, directory or build."""
        directory = directory.resolve()
        if not IMAGE_URI.match(uri):
            raise ValidationException(f"{uri!r} is not an image URI like "
                                      "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag")
        if not directory.is_dir():
            raise ValidationException(f"{directory} is not a directory")
        if dockerfile is None and (directory / "Dockerfile").is_file():
            dockerfile = directory / "Dockerfile"
        image = Image(uri, directory)
        if dockerfile is not None:
            try:
                config = build(directory, dockerfile, build_args or {}, isolation())
            except BuildError as exc:
                raise ValidationException(f"building {uri} from {dockerfile}: {exc}") from None
            image = self._image(uri, directory, config)
            if not any(image.runs(n) for n in ("train", "serve")):  # a processing image?
                config["warnings"].append(
                    f"{dockerfile.name} puts neither a `train` nor a `serve` executable on the "
                    f"image's PATH ({image.env.get('PATH')}) and sets no ENTRYPOINT: only "
                    "processing jobs that name their ContainerEntrypoint can run it")
                image = self._image(uri, directory, config)
        elif not any((directory / n).is_file() for n in ("train", "serve")):
            raise ValidationException(f"{directory} has neither a `train` nor a `serve` "
                                      "executable (nor a Dockerfile)")
        with self.store.tx() as db:
            # The time comes from Python: unixepoch('subsec') needs SQLite >= 3.42.
            db.execute("INSERT INTO images(uri, directory, registered_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(uri) DO UPDATE SET directory=excluded.directory, "
                       "registered_at=excluded.registered_at",
                       (uri, str(directory), time.time()))
            db.execute("DELETE FROM image_builds WHERE uri = ?", (uri,))
            if dockerfile is not None:
                db.execute("INSERT INTO image_builds(uri, config) VALUES (?, ?)",
                           (uri, json.dumps(config)))
        return image

    @staticmethod
    def _image(uri: str, directory: Path, config: dict[str, Any] | None) -> Image:
        if config is None:
            return Image(uri, directory)
        return Image(uri, directory, layer=Path(config["layer"]),
                     python=Path(config["python"]) if config["python"] else None,
                     env=config["env"], workdir=config["workdir"],
                     entrypoint=config["entrypoint"], warnings=config["warnings"])

    def resolve(self, uri: str) -> Image:
        row = self.store.one("SELECT i.directory, b.config FROM images i LEFT JOIN "
                             "image_builds b ON b.uri = i.uri WHERE i.uri = ?", uri)
        if row is None:
            raise UnknownImage(f"Image {uri} is not registered with the local AWS; register it "
                               f"with `sagepipe image register DIR --uri {uri}`.")
        image = self._image(uri, Path(row["directory"]),
                            json.loads(row["config"]) if row["config"] else None)
        if image.layer is not None and not image.layer.is_dir():
            raise UnknownImage(f"Image {uri}'s build ({image.layer.parent}) is gone from the "
                               f"build cache; register it again with `sagepipe image register "
                               f"{image.directory} --uri {uri}`.")
        return image

    def all(self) -> list[tuple[str, str]]:
        return [(r["uri"], r["directory"]) for r in
                self.store.query("SELECT uri, directory FROM images ORDER BY uri")]

    def forget(self, uri: str) -> None:
        """Unregister `uri` (the image directory, and its build in the cache, are left)."""
        with self.store.tx() as db:
            db.execute("DELETE FROM image_builds WHERE uri = ?", (uri,))
            db.execute("DELETE FROM images WHERE uri = ?", (uri,))
