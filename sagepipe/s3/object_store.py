"""What other local services need from S3: whole files in and out by `s3://` URI.

SageMaker (job channels and outputs, model data, data capture) and the API hosting (a
function's deployment package) depend on this interface, not on the S3 backend; the local S3
implements it in-process (`S3Backend.files`, s3.transfers). Errors are the S3 ones an AWS
service would report (NoSuchKey, NoSuchBucket) or a ValidationException for a bad URI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sagepipe.s3.rules import parse_s3_uri

__all__ = ["ObjectStore", "parse_s3_uri"]


class ObjectStore(Protocol):
    def exists(self, s3_uri: str) -> bool:
        """Whether `s3_uri` names an existing object."""
        ...

    def download_object(self, s3_uri: str, dest: Path) -> Path:
        """The one object `s3_uri` names, copied to the file `dest`."""
        ...

    def download(self, s3_uri: str, dest: Path) -> list[Path]:
        """Every object under the prefix `s3_uri` (SageMaker's S3Prefix), copied under `dest`."""
        ...

    def upload(self, path: Path, s3_uri: str) -> None:
        """The file `path` stored as the object `s3_uri` names."""
        ...

    def upload_tree(self, directory: Path, s3_uri: str) -> int:
        """Every file under `directory` stored under the prefix `s3_uri`; how many."""
        ...
