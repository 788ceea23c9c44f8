"""The credentials of one local AWS: made once per home, kept in a file only its owner reads.

Whoever holds them may call the local AWS (the gateway verifies every request's signature
against them); the home directory itself is private to its owner (0700), since it holds the
state, the logs and this file (0600). `sagepipe env` prints them for shells and SDKs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "credentials.json"
KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # what AWS access key ids are made of
KEY_PREFIX = "LSIA"  # the shape of an AWS key id (AKIA...), marked as a local one


@dataclass(frozen=True)
class LocalCredentials:
    access_key_id: str
    secret_access_key: str = ""

    def __repr__(self) -> str:  # never print the secret in a log or a traceback
        return f"LocalCredentials({self.access_key_id!r}, secret=...)"

    @property
    def secrets(self) -> dict[str, str]:
        """Access key id -> secret, as the SigV4 verifier takes them."""
        return {self.access_key_id: self.secret_access_key}


def private_home(home: Path) -> Path:
    """The home directory, created if need be, readable by its owner only."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    return home


def _generate() -> LocalCredentials:
    key = KEY_PREFIX + "".join(secrets.choice(KEY_ALPHABET) for _ in range(16))
    return LocalCredentials(key, secrets.token_urlsafe(30))


def home_credentials(home: Path) -> LocalCredentials:
    """This home's credentials, made on first use. Concurrent first uses agree: the file is
    written aside and linked into place, so whoever links first wins and the others read it."""
    path = home / FILE_NAME
    if not path.exists():
        private_home(home)
        fresh = _generate()
        fd, temp = tempfile.mkstemp(dir=home, prefix=".credentials-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                json.dump({"AccessKeyId": fresh.access_key_id,
                           "SecretAccessKey": fresh.secret_access_key}, out)
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)
        finally:
            os.unlink(temp)
    stored = json.loads(path.read_text())
    return LocalCredentials(stored["AccessKeyId"], stored["SecretAccessKey"])
