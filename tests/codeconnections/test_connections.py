"""The local CodeConnections, under both its names: a connection is AVAILABLE at once (the local
Git host needs no handshake) and says so in a tag; either API finds it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sagepipe.clients import local_env


@pytest.mark.parametrize("service", ["codeconnections", "codestar-connections"])
def test_create_get_list_delete(aws, service):
    api = aws(service)
    created = api.create_connection(ProviderType="GitHub", ConnectionName="sagepipe-github",
                                    Tags=[{"Key": "team", "Value": "ml"}])
    connection_arn = created["ConnectionArn"]
    assert re.fullmatch(rf"arn:aws:{service}:us-east-1:000000000000:connection/[0-9a-f-]{{36}}",
                        connection_arn)
    assert created["Tags"][0] == {"Key": "team", "Value": "ml"}
    assert "no handshake" in created["Tags"][1]["Value"]
    connection = api.get_connection(ConnectionArn=connection_arn)["Connection"]
    assert connection == {"ConnectionName": "sagepipe-github", "ConnectionArn": connection_arn,
                          "ProviderType": "GitHub", "OwnerAccountId": "000000000000",
                          "ConnectionStatus": "AVAILABLE"}
    other = aws({"codeconnections": "codestar-connections"}.get(service, "codeconnections"))
    assert other.get_connection(ConnectionArn=connection_arn)["Connection"] == connection
    listed = api.list_connections(ProviderTypeFilter="GitHub")["Connections"]
    assert connection in listed
    assert connection not in api.list_connections(ProviderTypeFilter="GitLab")["Connections"]
    api.delete_connection(ConnectionArn=connection_arn)
    with pytest.raises(api.exceptions.ResourceNotFoundException):
        api.get_connection(ConnectionArn=connection_arn)
    with pytest.raises(api.exceptions.ResourceNotFoundException):
        api.delete_connection(ConnectionArn=connection_arn)


def test_the_aws_cli_creates_an_available_connection(local_aws):
    aws = [str(Path(sys.executable).parent / "aws"), "--output", "text"]
    env = local_env(local_aws)
    connection_arn = subprocess.run(
        [*aws, "codeconnections", "create-connection", "--provider-type", "GitHub",
         "--connection-name", "cli", "--query", "ConnectionArn"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    status = subprocess.run(
        [*aws, "codeconnections", "get-connection", "--connection-arn", connection_arn,
         "--query", "Connection.ConnectionStatus"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert status == "AVAILABLE"


def test_a_host_connection_is_refused_with_the_reason(aws):
    api = aws("codeconnections")
    with pytest.raises(api.exceptions.UnsupportedOperationException, match="not emulated"):
        api.create_connection(
            ConnectionName="ghes",
            HostArn="arn:aws:codeconnections:us-east-1:000000000000:host/x-1234")
