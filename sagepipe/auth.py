"""Who may call the local AWS: requests addressed to a loopback name (so a web page cannot
reach it through DNS rebinding) and signed with the home's credentials (sagepipe.credentials),
or with a role session's derived from them (sagepipe.sts.sessions), checked by the one SigV4
verifier (sagepipe.sigv4)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request

from sagepipe.credentials import LocalCredentials
from sagepipe.sigv4 import AccessRefused, Received, Refusal, Signature, verify
from sagepipe.sts import sessions

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
VIRTUAL_HOST_SUFFIX = ".localhost"  # S3 virtual-host style: bucket.localhost


def host_name(host: str) -> str:
    """`127.0.0.1:4580` -> `127.0.0.1`, `[::1]:4580` -> `[::1]`, lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if ":" in host else host


def is_loopback(host: str | None) -> bool:
    name = host_name(host or "")
    return name in LOOPBACK_NAMES or (name.endswith(VIRTUAL_HOST_SUFFIX) and
                                      len(name) > len(VIRTUAL_HOST_SUFFIX))


class Authenticator:
    def __init__(self, credentials: LocalCredentials) -> None:
        self.secrets = credentials.secrets
        self.home_secret = credentials.secret_access_key

    @staticmethod
    def check_host(host: str | None) -> None:
        if not is_loopback(host):
            raise AccessRefused(Refusal.FOREIGN_HOST, (
                f"Host {host!r} is not a name of this machine's loopback interface: the local "
                f"AWS answers requests to {', '.join(LOOPBACK_NAMES)} and *.localhost only."))

    def verify(self, request: Request, service: str, *, body: bytes | None,
               s3: bool = False) -> Signature:
        """The request's signature for `service`; AccessRefused if it does not hold. `body`
        None: not read yet (S3 streams it and checks its declared hash as it arrives)."""
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        received = Received(request.method, raw_path.decode("latin-1"),
                            request.scope.get("query_string", b"").decode("latin-1"),
                            request.headers)
        return self.verify_received(received, service, body=body, s3=s3)

    def verify_received(self, received: Received, service: str, *, body: bytes | None,
                        s3: bool = False) -> Signature:
        """As `verify`, for the parts of a request already read off the wire."""
        return verify(received, self.keys(received), body=body, s3=s3, service=service)

    def keys(self, request: Received) -> Mapping[str, str]:
        """The secrets a request may be signed with: the home's, and the session's whose
        token it carries (refused if the home did not make it, or it has expired)."""
        token = sessions.request_token(request.headers, request.query)
        if not token:
            return self.secrets
        session = sessions.read_token(self.home_secret, token)
        if session is None:
            raise AccessRefused(Refusal.UNKNOWN_KEY, "The security token included in the "
                                "request is invalid.")
        if session.expired:
            raise AccessRefused(Refusal.UNKNOWN_KEY, "The security token included in the "
                                "request is expired")
        return {**self.secrets, session.access_key_id: sessions.secret_for(
            self.home_secret, session.access_key_id)}
