"""UploadPartCopy: parts copied from existing objects (ranges, versions, conditions), and the
clients that use it for objects above their multipart threshold: boto3's managed copy and the
AWS CLI's `s3 cp`/`s3 mv` between buckets."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest
from boto3.s3.transfer import TransferConfig
from s3_kit import empty_bucket, error_of

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def twenty_mb():
    return os.urandom(20 * MiB)


@pytest.fixture
def second_bucket(s3):
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    empty_bucket(s3, name)
    s3.delete_bucket(Bucket=name)


def test_parts_copied_from_ranges(s3, bucket):
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    first = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "src"},
                                CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    second = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=2,
                                 CopySource=f"{bucket}/src", CopySourceRange="bytes=100-199")
    assert first["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[:5 * MiB]).hexdigest()}"'
    parts = [{"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]
    listed = s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload_id)["Parts"]
    assert [p["Size"] for p in listed] == [5 * MiB, 100]
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id,
                                 MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == \
        source[:5 * MiB] + source[100:200]


def test_a_part_copied_whole_and_from_a_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="src", Body=b"old bytes")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new bytes")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    copied = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1,
                                 CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert copied["CopySourceVersionId"] == old
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"old bytes"


@pytest.mark.parametrize("copy_range, code", [
    ("bytes=0-100", "InvalidArgument"),  # past the end of a 10-byte source
    ("bytes=5-2", "InvalidArgument"),
    ("bytes=0-", "InvalidArgument"),
    ("items=0-1", "InvalidArgument"),
    ("bytes=" + "9" * 5000 + "-" + "9" * 5000, "InvalidArgument"),
])
def test_bad_copy_ranges(s3, bucket, copy_range, code):
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    assert error_of(s3.upload_part_copy, Bucket=bucket, Key="dst", UploadId=upload_id,
                    PartNumber=1, CopySource=f"{bucket}/src",
                    CopySourceRange=copy_range) == (code, 400)
    assert s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload_id).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id)


def test_copy_part_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    common = {"Bucket": bucket, "Key": "dst", "UploadId": upload_id, "PartNumber": 1}
    assert error_of(s3.upload_part_copy, **common, CopySource=f"{bucket}/missing") == (
        "NoSuchKey", 404)
    assert error_of(s3.upload_part_copy, **common, CopySource=f"{bucket}/src",
                    CopySourceIfMatch='"nope"') == ("PreconditionFailed", 412)
    assert error_of(s3.upload_part_copy, **{**common, "UploadId": "nope"},
                    CopySource=f"{bucket}/src") == ("NoSuchUpload", 404)
    s3.abort_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id)


def test_boto3_managed_copy_of_20_mb(s3, bucket, second_bucket, twenty_mb):
    s3.put_object(Bucket=bucket, Key="big.bin", Body=twenty_mb)
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    s3.copy({"Bucket": bucket, "Key": "big.bin"}, second_bucket, "copy.bin", Config=config)
    head = s3.head_object(Bucket=second_bucket, Key="copy.bin")
    assert head["ETag"].endswith('-3"')  # made of three copied parts
    assert s3.get_object(Bucket=second_bucket, Key="copy.bin")["Body"].read() == twenty_mb


def test_aws_cli_mv_of_20_mb_between_buckets(s3, bucket, second_bucket, twenty_mb, cli):
    s3.put_object(Bucket=bucket, Key="big.bin", Body=twenty_mb)
    cli("s3", "mv", f"s3://{bucket}/big.bin", f"s3://{second_bucket}/moved.bin")
    assert s3.get_object(Bucket=second_bucket, Key="moved.bin")["Body"].read() == twenty_mb
    assert error_of(s3.head_object, Bucket=bucket, Key="big.bin") == ("404", 404)
