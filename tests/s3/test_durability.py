"""What is on disk: failed and aborted writes leave no files, state survives a restart, and a
start sweeps away what a crash left. Runs on a gateway of its own, so nothing else writes."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from s3_kit import error_of, free_port, stray_files
from testkit import signed_headers

from sagepipe.clients import client as client_for
from sagepipe.config import Settings
from sagepipe.processes import alive, start_ticks
from sagepipe.s3.models import S3Backend
from sagepipe.server import running_pid, start_background, stop
from sagepipe.store import Store

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def own_aws(tmp_path_factory) -> Iterator[Settings]:
    settings = Settings(home=tmp_path_factory.mktemp("s3-durability"), port=free_port())
    start_background(settings)
    yield settings
    stop(settings)


@pytest.fixture
def own(own_aws):
    s3 = client_for(own_aws, "s3")
    name = f"own-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return s3, name


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll until the gateway has caught up with something it does in the background."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_rejected_bodies_leave_nothing(own, own_aws):
    s3, bucket = own
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert error_of(s3.put_object, Bucket=bucket, Key="k", Body=os.urandom(2 * 1024 * 1024),
                    ContentMD5=wrong) == ("BadDigest", 400)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    assert error_of(s3.upload_part, Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1,
                    Body=b"part", ContentMD5=wrong) == ("BadDigest", 400)
    assert stray_files(own_aws.home) == []
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert s3.list_parts(Bucket=bucket, Key="m", UploadId=upload_id).get("Parts", []) == []


def test_client_disconnect_mid_body_leaves_nothing(own, own_aws):
    s3, bucket = own
    tmp = own_aws.home / "s3" / "tmp"
    headers = signed_headers(own_aws, "PUT", f"/{bucket}/cut",
                             headers={"Content-Length": "10000000"})
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection(("127.0.0.1", own_aws.port)) as sock:
        sock.sendall(f"PUT /{bucket}/cut HTTP/1.1\r\n{head}\r\n".encode() + b"x" * 100_000)
        wait_for(lambda: any(tmp.iterdir()), "the upload to start")
    wait_for(lambda: not any(tmp.iterdir()), "the temp file to be removed")
    assert stray_files(own_aws.home) == []
    assert error_of(s3.head_object, Bucket=bucket, Key="cut") == ("404", 404)


def test_abort_and_replaced_parts_leave_no_files(own, own_aws):
    s3, bucket = own
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    for number, body in ((1, os.urandom(PART)), (1, os.urandom(PART)), (2, b"end")):
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number,
                       Body=body)
    assert stray_files(own_aws.home) == []
    assert len(list((own_aws.home / "s3" / "blobs").iterdir())) == 2
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert list((own_aws.home / "s3" / "blobs").iterdir()) == []


def test_overwrites_deletes_and_completions_free_their_files(own, own_aws):
    s3, bucket = own
    blobs = own_aws.home / "s3" / "blobs"
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    assert len(list(blobs.iterdir())) == 2
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    kept = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1,
                          Body=b"kept")["ETag"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"dropped")
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": kept}]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}, {"Key": "copy"}]})
    assert list(blobs.iterdir()) == []
    assert stray_files(own_aws.home) == []


def test_state_survives_restart_and_start_sweeps_leftovers(own, own_aws):
    s3, bucket = own
    s3.put_object(Bucket=bucket, Key="dir/kept.txt", Body=b"still here",
                  Metadata={"a": "b"})
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="later")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="later", UploadId=upload_id, PartNumber=1,
                          Body=b"part one")["ETag"]
    stop(own_aws)
    root = own_aws.home / "s3"
    (root / "tmp" / "interrupted-upload").write_bytes(b"half")  # what a crash leaves
    (root / "blobs" / ("0" * 32)).write_bytes(b"never committed")
    start_background(own_aws)
    s3 = client_for(own_aws, "s3")
    assert stray_files(own_aws.home) == []
    got = s3.get_object(Bucket=bucket, Key="dir/kept.txt")
    assert got["Body"].read() == b"still here" and got["Metadata"] == {"a": "b"}
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.complete_multipart_upload(Bucket=bucket, Key="later", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket=bucket, Key="later")["Body"].read() == b"part one"


def test_versions_keep_their_files_until_deleted_for_good(own, own_aws):
    s3, bucket = own
    blobs = own_aws.home / "s3" / "blobs"
    before = set(blobs.iterdir())  # other tests' objects
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    assert len(set(blobs.iterdir()) - before) == 2 and stray_files(own_aws.home) == []
    stop(own_aws)
    start_background(own_aws)
    s3 = client_for(own_aws, "s3")
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=first)["Body"].read() == b"one"
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "k", "VersionId": v} for v in (first, second, marker)]})
    assert set(blobs.iterdir()) == before and stray_files(own_aws.home) == []


def test_a_home_from_before_versions_keeps_its_objects(tmp_path):
    """A store written when each key had one row (s3_objects) opens with each object as its
    null version, and the start's sweep keeps its file."""
    home = tmp_path / "home"
    (home / "s3" / "blobs").mkdir(parents=True)
    (home / "s3" / "blobs" / "blob1").write_bytes(b"kept")
    with sqlite3.connect(home / "state.db") as db:
        db.executescript(
            "CREATE TABLE s3_buckets (name TEXT PRIMARY KEY, region TEXT NOT NULL, "
            "created REAL NOT NULL);"
            "CREATE TABLE s3_objects (bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT "
            "NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, modified REAL NOT NULL, attrs TEXT "
            "NOT NULL, PRIMARY KEY (bucket, key));"
            "INSERT INTO s3_buckets VALUES ('old', 'us-east-1', 0);"
            "INSERT INTO s3_objects VALUES ('old', 'k', 'blob1', 4, '\"etag\"', 1, "
            "'{\"ContentType\": \"text/plain\"}');")
    settings = Settings(home=home, port=free_port())
    backend = S3Backend(Store(settings.db_path), settings)
    obj, handle = backend.open_object("old", "k")
    with handle:
        assert handle.read() == b"kept"
    assert (obj.version, obj.latest, obj.attrs["ContentType"]) == ("null", True, "text/plain")
    assert (home / "s3" / "blobs" / "blob1").exists()


def test_kill_9_during_versioned_writes_leaves_every_committed_version_whole(tmp_path):
    """Writers add versions (small and large) while the gateway is killed with SIGKILL:
    after a restart every listed version reads back whole (its bytes match its ETag), nothing
    half-written is listed, and no file is left over."""
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    s3 = client_for(settings, "s3")
    s3.create_bucket(Bucket="crash")
    s3.put_bucket_versioning(Bucket="crash", VersioningConfiguration={"Status": "Enabled"})
    stop_writing = threading.Event()

    def write(key: str, size: int) -> None:
        writer = client_for(settings, "s3")
        while not stop_writing.is_set():
            try:
                writer.put_object(Bucket="crash", Key=key, Body=os.urandom(size))
            except Exception:  # the gateway is gone: that is the point
                return

    threads = [threading.Thread(target=write, args=(f"k{i}", size))
               for i, size in enumerate((10, 300_000, 3_000_000))]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(s3.list_object_versions(Bucket="crash").get("Versions", [])) >= 6,
             "some versions to be written")
    pid = running_pid(settings)
    os.kill(pid, signal.SIGKILL)
    stop_writing.set()
    for thread in threads:
        thread.join(timeout=60)
    wait_for(lambda: not alive(pid, start_ticks(pid) or 0), "the gateway to die")
    try:
        start_background(settings)
        s3 = client_for(settings, "s3")
        versions = s3.list_object_versions(Bucket="crash")["Versions"]
        assert len(versions) >= 6
        for version in versions:
            body = s3.get_object(Bucket="crash", Key=version["Key"],
                                 VersionId=version["VersionId"])["Body"].read()
            assert f'"{hashlib.md5(body).hexdigest()}"' == version["ETag"]
            assert len(body) == version["Size"]
        assert stray_files(settings.home) == []
    finally:
        stop(settings)
