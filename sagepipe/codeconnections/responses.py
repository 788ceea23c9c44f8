"""The local CodeConnections on the wire (AWS JSON 1.0), under its current name and its former
one (`codestar-connections`, which the AWS CLI and CloudFormation templates still use)."""

from __future__ import annotations

from sagepipe.codeconnections.models import Connections
from sagepipe.edge import AwsService

SERVICE_NAMES = ("codeconnections", "codestar-connections")


def codeconnections_services(connections: Connections) -> list[AwsService]:
    return [AwsService(name, "CodeConnections", {
        "CreateConnection": lambda params, name=name: connections.create_connection(name, params),
        "GetConnection": connections.get_connection,
        "ListConnections": connections.list_connections,
        "DeleteConnection": connections.delete_connection,
    }) for name in SERVICE_NAMES]
