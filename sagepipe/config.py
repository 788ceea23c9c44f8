"""Where the local AWS keeps its state, and which address it listens on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sagepipe.credentials import LocalCredentials, home_credentials

DEFAULT_PORT = 4580
HOST = "127.0.0.1"
ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Settings:
    """The local AWS's home directory and port; one value object shared by every service."""

    home: Path
    port: int = DEFAULT_PORT
    region: str = DEFAULT_REGION

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @cached_property
    def credentials(self) -> LocalCredentials:
        """The home's credentials (made on first use): the only ones the local AWS accepts."""
        return home_credentials(self.home)

    @property
    def db_path(self) -> Path:
        return self.home / "state.db"

    def subdir(self, name: str) -> Path:
        path = self.home / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def default_home() -> Path:
    """`$SAGEPIPE_HOME`, else `.sagepipe/` at the top of the repository the command runs in."""
    if env := os.environ.get("SAGEPIPE_HOME"):
        return Path(env).resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return folder / ".sagepipe"
    return cwd / ".sagepipe"


# Services whose ARNs name no region (IAM, STS), or neither region nor account (S3 buckets).
NO_REGION = frozenset({"iam", "s3", "sts"})
NO_ACCOUNT = frozenset({"s3"})


def arn(service: str, resource: str, region: str = DEFAULT_REGION,
        account: str = ACCOUNT_ID) -> str:
    """The one ARN builder: every ARN the local AWS hands out is made here."""
    return (f"arn:aws:{service}:{'' if service in NO_REGION else region}:"
            f"{'' if service in NO_ACCOUNT else account}:{resource}")
