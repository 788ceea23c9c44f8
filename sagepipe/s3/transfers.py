"""Objects in and out of files, for the local services that use S3 in-process (SageMaker jobs
download their inputs and upload their outputs without going through HTTP): the local S3's
implementation of the `ObjectStore` interface (s3.object_store)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sagepipe.errors import AWSError, ValidationException
from sagepipe.s3.exceptions import NoSuchKey
from sagepipe.s3.rules import parse_s3_uri

if TYPE_CHECKING:
    from sagepipe.s3.models import S3Backend


class LocalTransfers:
    """Files in and out of the local S3 (`S3Backend.files`), in-process."""

    def __init__(self, objects: S3Backend) -> None:
        self.objects = objects

    def exists(self, s3_uri: str) -> bool:
        """Whether s3_uri names an existing object."""
        try:
            self.objects.head_object(*parse_s3_uri(s3_uri))
        except AWSError as err:
            if err.status != 404:
                raise
            return False
        return True

    def download_object(self, s3_uri: str, dest: Path) -> Path:
        """Copy the one object s3_uri names to the file `dest`."""
        bucket, key = parse_s3_uri(s3_uri)
        obj, handle = self.objects.open_object(bucket, key)
        with handle:
            _write_file(handle, dest, obj.key)
        return dest

    def download(self, s3_uri: str, dest: Path) -> list[Path]:
        """SageMaker's S3Prefix: every object whose key starts with the URI's key, to
        `dest / <key relative to the prefix>` (an exact key lands as `dest / <basename>`)."""
        bucket, prefix = parse_s3_uri(s3_uri)
        page = self.objects.list_objects(bucket, prefix=prefix, max_keys=10**9)
        targets = [(obj, _local_path(obj.key, prefix)) for obj in page.objects]
        targets = [(obj, parts) for obj, parts in targets if parts]  # skip folder markers
        if not targets:
            raise NoSuchKey(f"No object in bucket {bucket} has a key starting with {prefix!r}; "
                            f"upload the data to {s3_uri} first.", Key=prefix)
        written = []
        for obj, parts in targets:
            target = dest.joinpath(*parts)
            _, handle = self.objects.open_object(bucket, obj.key)
            with handle:
                _write_file(handle, target, obj.key)
            written.append(target)
        return written

    def upload(self, path: Path, s3_uri: str) -> None:
        """Store the file at `path` as the object s3_uri names exactly."""
        bucket, key = parse_s3_uri(s3_uri)
        if not key or key.endswith("/"):
            raise ValidationException(
                f"{s3_uri} names a prefix, not an object key; name the object "
                f"(e.g. {s3_uri.rstrip('/')}/{path.name}).")
        self.objects.get_bucket(bucket)
        body = self.objects.writer()
        try:
            with open(path, "rb") as source:
                body.copy_from(source)
            self.objects.put_object(bucket, key, body, {"ContentType": "binary/octet-stream"})
        finally:
            body.discard()

    def upload_tree(self, directory: Path, s3_uri: str) -> int:
        """Store every file under `directory` as `<prefix>/<relative path>`; the file count."""
        bucket, prefix = parse_s3_uri(s3_uri)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        files = sorted(p for p in directory.rglob("*") if p.is_file())
        for path in files:
            self.upload(path, f"s3://{bucket}/{prefix}{path.relative_to(directory).as_posix()}")
        return len(files)


def _local_path(key: str, prefix: str) -> list[str]:
    """Where an object of an S3Prefix download goes, as path segments under the destination."""
    if key == prefix:
        relative = key.rpartition("/")[2]
    elif not prefix or prefix.endswith("/") or key[len(prefix)] == "/":
        relative = key[len(prefix):]
    else:  # a sibling such as `train.csv` for the prefix `data/train`: keep its own name
        relative = key[len(prefix.rpartition("/")[0]):]
    parts = [p for p in relative.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValidationException(
            f"The object key {key!r} has a '.' or '..' segment, so it cannot be "
            "written under the download directory; rename the object.")
    return parts if relative and not relative.endswith("/") else []


def _write_file(source: BinaryIO, target: Path, key: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    except OSError as exc:
        clash = isinstance(exc, IsADirectoryError | NotADirectoryError | FileExistsError)
        hint = "; two keys map to the same path, one as a file, one as a folder" if clash else ""
        raise ValidationException(
            f"Could not write object {key!r} to {target}: {exc.strerror}{hint}.") \
            from None
