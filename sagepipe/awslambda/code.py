"""Functions' deployment packages under the home, by content: `lambda/code/<sha256>.zip` as
uploaded (what GetFunction's Code.Location serves) and `lambda/tasks/<sha256>/` unpacked once
(each sandbox's LAMBDA_TASK_ROOT). Functions and versions with the same code share both.

A package is checked as Lambda checks it before anything is stored: a readable zip whose
unpacked size is within Lambda's 250 MB; code from S3 is read from the local S3 through its
ObjectStore interface, and S3's error is reported as Lambda reports it.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sagepipe.awslambda.exceptions import InvalidParameterValueException
from sagepipe.errors import AWSError
from sagepipe.s3.object_store import ObjectStore

MAX_UNZIPPED = 262_144_000  # Lambda's limit on a package's unzipped size


@dataclass(frozen=True)
class Package:
    sha256: str  # hex: the file names
    size: int

    @property
    def code_sha256(self) -> str:
        """What the API calls CodeSha256: the base64 of the digest."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    @classmethod
    def of(cls, code_sha256: str, size: int) -> Package:
        return cls(base64.b64decode(code_sha256).hex(), size)


class CodePackages:
    def __init__(self, root: Path, s3: ObjectStore) -> None:
        self.zips = root / "code"
        self.tasks = root / "tasks"
        self.zips.mkdir(parents=True, exist_ok=True)
        self.tasks.mkdir(parents=True, exist_ok=True)
        self.s3 = s3

    def store(self, data: bytes) -> Package:
        """Keep an uploaded zip (CreateFunction's or UpdateFunctionCode's ZipFile)."""
        with tempfile.NamedTemporaryFile(dir=self.zips, suffix=".part", delete=False) as part:
            part.write(data)
        return self._keep(Path(part.name))

    def store_from_s3(self, bucket: str, key: str) -> Package:
        """Keep the zip at s3://bucket/key of the local S3."""
        part = Path(tempfile.mkstemp(dir=self.zips, suffix=".part")[1])
        try:
            self.s3.download_object(f"s3://{bucket}/{key}", part)
        except AWSError as exc:
            part.unlink(missing_ok=True)
            raise InvalidParameterValueException(
                f"Error occurred while GetObject. S3 Error Code: {exc.code}. S3 Error Message: "
                f"{exc.message}") from None
        return self._keep(part)

    def _keep(self, part: Path) -> Package:
        """Check the zip in `part`, then move it to its content address and unpack it."""
        try:
            self._check(part)
            digest = hashlib.sha256()
            with open(part, "rb") as data:
                for chunk in iter(lambda: data.read(1 << 20), b""):
                    digest.update(chunk)
            package = Package(digest.hexdigest(), part.stat().st_size)
            part.replace(self.zip_path(package))
        finally:
            part.unlink(missing_ok=True)
        self.task_root(package)
        return package

    @staticmethod
    def _check(path: Path) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                unzipped = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError):
            raise InvalidParameterValueException(
                "Could not unzip uploaded file. Please check your file, then try to upload "
                "again.") from None
        if unzipped > MAX_UNZIPPED:
            raise InvalidParameterValueException(
                f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")

    def zip_path(self, package: Package) -> Path:
        return self.zips / f"{package.sha256}.zip"

    def task_root(self, package: Package) -> Path:
        """The package unpacked (once: unpacked aside, then renamed into place)."""
        root = self.tasks / package.sha256
        if not root.is_dir():
            staging = Path(tempfile.mkdtemp(dir=self.tasks, prefix=".unpack-"))
            with zipfile.ZipFile(self.zip_path(package)) as archive:
                archive.extractall(staging)  # drops absolute and `..` member paths
            try:
                staging.rename(root)
            except OSError:  # another thread unpacked it meanwhile
                shutil.rmtree(staging, ignore_errors=True)
        return root

    def sweep(self, referenced: set[str]) -> None:
        """Remove the packages (hex digests) no function, version or sandbox uses."""
        for path in self.zips.glob("*.zip"):
            if path.stem not in referenced:
                path.unlink(missing_ok=True)
        for path in self.tasks.iterdir():
            if path.name not in referenced and not path.name.startswith("."):  # not unpacking
                shutil.rmtree(path, ignore_errors=True)
