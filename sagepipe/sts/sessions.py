"""Role session credentials the local AWS accepts without storing them: each is derived from
the home's secret, so only whoever holds that secret (the local AWS, `sagepipe env`'s user)
can mint one, and the gateway can check one from the request alone.

    access key id   ASIA + 16 random characters, as AWS's temporary keys look
    secret key      HMAC(home secret, access key id)
    session token   base64url(JSON {key, role, role id, session name, expiry}) "." HMAC of it

A request signed with a session's key carries its token (`X-Amz-Security-Token`, as every SDK
sends it); the gateway reads the token, checks its MAC and expiry, derives the secret and
verifies the signature as for the home's own key (sagepipe/auth.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import parse_qsl

from sagepipe.config import ACCOUNT_ID, arn
from sagepipe.credentials import KEY_ALPHABET

KEY_PREFIX = "ASIA"
SESSION_HEADER = "x-amz-security-token"  # where SDKs send the session token
SESSION_PARAM = "X-Amz-Security-Token"  # where presigned URLs carry it


@dataclass(frozen=True)
class Session:
    """Who a session's credentials stand for, and until when."""

    access_key_id: str
    role_arn: str
    role_id: str
    session_name: str
    expires: float

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires

    @property
    def arn(self) -> str:
        """The caller's ARN, as GetCallerIdentity and AssumeRole's AssumedRoleUser say it."""
        role_name = self.role_arn.rpartition("/")[2]
        return arn("sts", f"assumed-role/{role_name}/{self.session_name}", account=ACCOUNT_ID)

    @property
    def user_id(self) -> str:
        return f"{self.role_id}:{self.session_name}"


def _mac(home_secret: str, purpose: str, data: bytes) -> bytes:
    return hmac.new(f"{purpose}:{home_secret}".encode(), data, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def secret_for(home_secret: str, access_key_id: str) -> str:
    """The secret key of a session's access key id."""
    return _b64(_mac(home_secret, "secret", access_key_id.encode()))[:40]


def issue(home_secret: str, role_arn: str, role_id: str, session_name: str,
          duration: int) -> tuple[Session, str, str]:
    """A new session: (session, secret key, session token)."""
    key = KEY_PREFIX + "".join(secrets.choice(KEY_ALPHABET) for _ in range(16))
    session = Session(key, role_arn, role_id, session_name, time.time() + duration)
    payload = json.dumps(asdict(session), separators=(",", ":")).encode()
    token = f"{_b64(payload)}.{_b64(_mac(home_secret, 'token', payload))}"
    return session, secret_for(home_secret, key), token


def read_token(home_secret: str, token: str) -> Session | None:
    """The session a token stands for, if the home's secret made it (expired or not)."""
    encoded, _, mac = token.partition(".")
    try:
        payload, given = _unb64(encoded), _unb64(mac)
        if not hmac.compare_digest(_mac(home_secret, "token", payload), given):
            return None
        return Session(**json.loads(payload))
    except (ValueError, TypeError):
        return None


def request_token(headers: Mapping[str, str], query: str) -> str | None:
    """The session token a request carries, if any."""
    return headers.get(SESSION_HEADER) or (dict(parse_qsl(query)).get(SESSION_PARAM)
                                           if query else None)
