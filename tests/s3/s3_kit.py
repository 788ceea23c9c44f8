"""Helpers for the local S3 tests."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from botocore.exceptions import ClientError


def error_of(call, *args, **kwargs) -> tuple[str, int]:
    """The (error code, HTTP status) a boto3 call fails with."""
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def stray_files(home: Path) -> list[Path]:
    """Files under the S3 directory that no object or part refers to: temp files, orphans."""
    with sqlite3.connect(home / "state.db") as db:
        referenced = {row[0] for row in db.execute(
            "SELECT blob FROM s3_versions UNION ALL SELECT blob FROM s3_parts")}
    root = home / "s3"
    return [*(root / "tmp").iterdir(),
            *(p for p in (root / "blobs").iterdir() if p.name not in referenced)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def empty_bucket(client, name: str) -> None:
    """Delete every version and delete marker (a versioned bucket keeps them all)."""
    for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
        entries = [{"Key": entry["Key"], "VersionId": entry["VersionId"]}
                   for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if entries:
            client.delete_objects(Bucket=name, Delete={"Objects": entries, "Quiet": True})
