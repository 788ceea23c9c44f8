"""Multipart uploads: boto3's transfer manager on 50 MB, and each rule S3 enforces."""

from __future__ import annotations

import hashlib
import os

import pytest
from boto3.s3.transfer import TransferConfig
from s3_kit import error_of

MiB = 1024 * 1024
PART = 5 * MiB


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "fifty.bin"
    path.write_bytes(os.urandom(50 * MiB))
    return path


def test_upload_file_and_download_file_50mb(s3, bucket, big_file, tmp_path):
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    s3.upload_file(str(big_file), bucket, "big/fifty.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big/fifty.bin")
    assert head["ContentLength"] == 50 * MiB
    data = big_file.read_bytes()
    parts = [data[i:i + 8 * MiB] for i in range(0, len(data), 8 * MiB)]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert head["ETag"] == f'"{expected}-{len(parts)}"'
    out = tmp_path / "back.bin"
    s3.download_file(bucket, "big/fifty.bin", str(out), Config=config)
    assert out.read_bytes() == data


def start(s3, bucket, key="mp"):
    return s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/plain",
                                      Metadata={"kind": "multi"})["UploadId"]


def put_part(s3, bucket, upload_id, number, body, key="mp"):
    return s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                          Body=body)["ETag"]


def test_manual_multipart(s3, bucket):
    upload_id = start(s3, bucket)
    first, last = os.urandom(PART), b"tail"
    etag1 = put_part(s3, bucket, upload_id, 1, first)
    etag2 = put_part(s3, bucket, upload_id, 2, last)
    assert etag1 == f'"{hashlib.md5(first).hexdigest()}"'
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [
        (1, PART, etag1), (2, 4, etag2)]
    assert not listed["IsTruncated"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id,
                                        MultipartUpload={"Parts": [
                                            {"PartNumber": 1, "ETag": etag1},
                                            {"PartNumber": 2, "ETag": etag2}]})
    digest = hashlib.md5(hashlib.md5(first).digest() + hashlib.md5(last).digest()).hexdigest()
    assert done["ETag"] == f'"{digest}-2"'
    assert done["Key"] == "mp" and done["Bucket"] == bucket
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == first + last
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"kind": "multi"}
    assert error_of(s3.list_parts, Bucket=bucket, Key="mp", UploadId=upload_id) == (
        "NoSuchUpload", 404)


def test_list_parts_pages(s3, bucket):
    upload_id = start(s3, bucket)
    for number in (1, 2, 3):
        put_part(s3, bucket, upload_id, number, b"p")
    first = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2] and first["IsTruncated"]
    rest = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id,
                         PartNumberMarker=first["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3] and not rest["IsTruncated"]
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)


def test_completion_rules(s3, bucket):
    upload_id = start(s3, bucket)
    small1 = put_part(s3, bucket, upload_id, 1, b"small one")
    small2 = put_part(s3, bucket, upload_id, 2, b"small two")

    def complete(parts):
        return error_of(s3.complete_multipart_upload, Bucket=bucket, Key="mp",
                        UploadId=upload_id, MultipartUpload={"Parts": parts})

    assert complete([{"PartNumber": 2, "ETag": small2}, {"PartNumber": 1, "ETag": small1}]) == (
        "InvalidPartOrder", 400)
    assert complete([{"PartNumber": 1, "ETag": '"0123"'}]) == ("InvalidPart", 400)
    assert complete([{"PartNumber": 7, "ETag": small1}]) == ("InvalidPart", 400)
    assert complete([{"PartNumber": 1, "ETag": small1}, {"PartNumber": 2, "ETag": small2}]) == (
        "EntityTooSmall", 400)
    assert complete([]) == ("MalformedXML", 400)
    # the upload is still open: a single small part is a valid last part
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": small1}]})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"small one"


def test_part_number_and_upload_id_errors(s3, bucket):
    upload_id = start(s3, bucket)
    assert error_of(s3.upload_part, Bucket=bucket, Key="mp", UploadId=upload_id,
                    PartNumber=10_001, Body=b"x") == ("InvalidArgument", 400)
    assert error_of(s3.upload_part, Bucket=bucket, Key="mp", UploadId="nope", PartNumber=1,
                    Body=b"x") == ("NoSuchUpload", 404)
    assert error_of(s3.upload_part, Bucket=bucket, Key="other", UploadId=upload_id,
                    PartNumber=1, Body=b"x") == ("NoSuchUpload", 404)
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert error_of(s3.abort_multipart_upload, Bucket=bucket, Key="mp",
                    UploadId=upload_id) == ("NoSuchUpload", 404)

