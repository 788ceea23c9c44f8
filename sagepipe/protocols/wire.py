"""What every wire protocol module shares: the request as received, the protocol interface,
and the mapping of refused credentials to each protocol's own error codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl

from botocore.model import OperationModel
from starlette.datastructures import Headers
from starlette.responses import Response

from sagepipe.errors import AWSError
from sagepipe.sigv4 import AccessRefused, Refusal

Params = dict[str, Any]
# Refusal -> (code, status, message or None for the verifier's own message)
AccessErrors = Mapping[Refusal, tuple[str, int, str | None]]


@dataclass(frozen=True)
class WireRequest:
    """An HTTP request as received: path and query as sent (percent-encoded), the body read."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes = b""

    @classmethod
    def of(cls, method: str, path: str, query: str = "", headers: Mapping[str, str] | None = None,
           body: bytes = b"") -> WireRequest:
        return cls(method, path, query, Headers(headers=dict(headers or {})), body)

    @cached_property
    def query_params(self) -> list[tuple[str, str]]:
        """The query string's (name, value) pairs, decoded, in order."""
        return parse_qsl(self.query, keep_blank_values=True)


class WireProtocol(Protocol):
    """One AWS wire protocol, bound to a service's botocore model."""

    name: ClassVar[str]
    request_id_header: ClassVar[str]

    def operation(self, request: WireRequest) -> OperationModel:
        """The operation a request calls; the protocol's unknown-operation error otherwise."""
        ...

    def parse(self, op: OperationModel, request: WireRequest) -> Params:
        """The operation's input members, typed and checked against the model."""
        ...

    def serialize(self, op: OperationModel, result: Mapping[str, Any],
                  request_id: str) -> Response:
        """A handler's output members as the protocol's success response."""
        ...

    def serialize_error(self, err: AWSError, request_id: str, method: str) -> Response:
        ...

    def access_error(self, refused: AccessRefused) -> AWSError:
        """A refused request (no or a bad signature, a foreign Host) as this protocol says it."""
        ...


def access_error(table: AccessErrors, refused: AccessRefused,
                 keep_extra: bool = False) -> AWSError:
    code, status, message = table[refused.refusal]
    return AWSError(code, message or refused.message, status,
                    **(refused.extra if keep_extra else {}))
