"""The pipeline's artifact store: each artifact an action produces is one zip in the pipeline's
artifact bucket of the local S3, under `<pipeline>/<artifact>/<random id>` (each name cut to 20
characters), as CodePipeline lays them out in AWS; actions read their inputs from there (a
CodeBuild action hands them to its build as S3 sources)."""

from __future__ import annotations

import secrets
import string
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from sagepipe.archives import pack

Location = dict[str, str]  # {"bucket": ..., "key": ...}, CodePipeline's S3ArtifactLocation


class ArtifactStore:
    def __init__(self, s3: Any, bucket: str, pipeline: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.pipeline = pipeline

    def new_location(self, artifact: str) -> Location:
        suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(7))
        return {"bucket": self.bucket,
                "key": f"{self.pipeline[:20]}/{artifact[:20]}/{suffix}"}

    def put_zip(self, archive: Path, location: Location,
                metadata: dict[str, str] | None = None) -> None:
        self.s3.upload_file(str(archive), location["bucket"], location["key"],
                            ExtraArgs={"Metadata": metadata} if metadata else None)

    def put_directory(self, directory: Path, location: Location) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            self.put_zip(pack(directory, Path(tmp) / "artifact.zip"), location)

    def read(self, location: Location, inner: str) -> bytes:
        """One file of an artifact (`TemplatePath: Artifact::path/in/it`)."""
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "artifact.zip"
            self.s3.download_file(location["bucket"], location["key"], str(archive))
            with zipfile.ZipFile(archive) as zipped:
                try:
                    return zipped.read(inner)
                except KeyError:
                    raise FileNotFoundError(inner) from None
