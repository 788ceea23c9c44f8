"""Connections in CodeConnections' table of the store, one document per connection (what
GetConnection returns), under both service names: a connection made through
`codestar-connections` has that service in its ARN, and either API finds it, as in AWS."""

from __future__ import annotations

import uuid
from typing import Any

from sagepipe.codeconnections.exceptions import (
    InvalidInputException,
    ResourceNotFoundException,
    UnsupportedOperationException,
)
from sagepipe.config import ACCOUNT_ID, Settings, arn
from sagepipe.documents import Documents
from sagepipe.store import Store

Params = dict[str, Any]
PAGE = 50
LOCAL_NOTE = {"Key": "sagepipe:local-note",
              "Value": "AVAILABLE at once: locally the Git host is the local AWS itself (`sagepipe "
                       "remote`), so there is no handshake to complete in the console."}


class Connections:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.settings = settings
        self.docs = Documents(store, "codeconnections", not_found=ResourceNotFoundException,
                              in_use=InvalidInputException)

    def create_connection(self, service: str, params: Params) -> Params:
        if params.get("HostArn"):
            raise UnsupportedOperationException(
                "Connections to a host (GitHub Enterprise Server, GitLab self-managed) are not "
                "emulated locally: create one with ProviderType GitHub, GitLab or Bitbucket")
        if not params.get("ProviderType"):
            raise InvalidInputException("ProviderType is required when no HostArn is given")
        connection_id = str(uuid.uuid4())
        connection = {"ConnectionName": params["ConnectionName"],
                      "ConnectionArn": arn(service, f"connection/{connection_id}",
                                           self.settings.region),
                      "ProviderType": params["ProviderType"], "OwnerAccountId": ACCOUNT_ID,
                      "ConnectionStatus": "AVAILABLE"}
        self.docs.create("connection", connection_id, connection)
        return {"ConnectionArn": connection["ConnectionArn"],
                "Tags": [*(params.get("Tags") or []), LOCAL_NOTE]}

    def get_connection(self, params: Params) -> Params:
        return {"Connection": self._find(params["ConnectionArn"])}

    def list_connections(self, params: Params) -> Params:
        connections = [c for c in reversed(self.docs.all("connection"))
                       if params.get("ProviderTypeFilter") in (None, c["ProviderType"])]
        token = params.get("NextToken") or "0"
        if not (token.isascii() and token.isdigit() and len(token) < 10):
            raise InvalidInputException(f"Invalid NextToken {token!r}: pass the NextToken of "
                                        "the previous page")
        start, size = int(token), params.get("MaxResults") or PAGE
        answer: Params = {"Connections": connections[start:start + size]}
        if start + size < len(connections):
            answer["NextToken"] = str(start + size)
        return answer

    def delete_connection(self, params: Params) -> Params:
        self._find(params["ConnectionArn"])
        self.docs.delete("connection", _connection_id(params["ConnectionArn"]))
        return {}

    def _find(self, connection_arn: str) -> Params:
        connection = self.docs.find("connection", _connection_id(connection_arn))
        if connection is None:
            raise ResourceNotFoundException(f"Connection {connection_arn} not found")
        return connection


def _connection_id(connection_arn: str) -> str:
    """`arn:aws:codeconnections:<region>:<account>:connection/<id>` (or codestar-connections)."""
    return connection_arn.rpartition(":connection/")[2]
