"""Checksums S3 keeps with an object: the one its client sent (verified), else a CRC64NVME;
COMPOSITE and FULL_OBJECT ones for multipart uploads; returned with ChecksumMode=ENABLED and by
GetObjectAttributes. Expected values come from the algorithms' published check values and the
standard library, not from the code under test."""

from __future__ import annotations

import base64
import hashlib
import zlib

import boto3
import pytest
from botocore.config import Config
from s3_kit import error_of

CHECK = b"123456789"  # the CRC catalogue's check input, with its published check values
CRC32C_CHECK = bytes.fromhex("e3069283")
CRC64NVME_CHECK = bytes.fromhex("ae8b14860a799888")
PART = 5 * 1024 * 1024


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def plain_s3(local_aws):
    """A client that sends no checksum unless told (botocore sends a CRC32 by default)."""
    credentials = local_aws.credentials
    return boto3.client("s3", endpoint_url=local_aws.endpoint_url,
                        region_name=local_aws.region,
                        aws_access_key_id=credentials.access_key_id,
                        aws_secret_access_key=credentials.secret_access_key,
                        config=Config(request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


@pytest.mark.parametrize("member, value", [
    ("ChecksumCRC32", b64(zlib.crc32(CHECK).to_bytes(4, "big"))),
    ("ChecksumCRC32C", b64(CRC32C_CHECK)),
    ("ChecksumCRC64NVME", b64(CRC64NVME_CHECK)),
    ("ChecksumSHA1", b64(hashlib.sha1(CHECK).digest())),
    ("ChecksumSHA256", b64(hashlib.sha256(CHECK).digest())),
])
def test_the_checksum_sent_is_kept_and_returned(plain_s3, bucket, member, value):
    put = plain_s3.put_object(Bucket=bucket, Key="k", Body=CHECK, **{member: value})
    assert put[member] == value
    for read in (plain_s3.get_object, plain_s3.head_object):
        answer = read(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
        assert (answer[member], answer["ChecksumType"]) == (value, "FULL_OBJECT")
        assert member not in read(Bucket=bucket, Key="k")  # only when asked for
    ranged = plain_s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-3",
                                 ChecksumMode="ENABLED")
    assert member not in ranged
    wrong = b64(bytes(len(base64.b64decode(value))))
    assert error_of(plain_s3.put_object, Bucket=bucket, Key="k", Body=CHECK,
                    **{member: wrong}) == ("BadDigest", 400)


def test_without_a_checksum_s3_keeps_a_crc64nvme(plain_s3, bucket):
    plain_s3.put_object(Bucket=bucket, Key="k", Body=CHECK)
    head = plain_s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == b64(CRC64NVME_CHECK)
    attributes = plain_s3.get_object_attributes(
        Bucket=bucket, Key="k", ObjectAttributes=["ETag", "Checksum", "ObjectSize",
                                                  "StorageClass"])
    assert attributes["Checksum"] == {"ChecksumCRC64NVME": b64(CRC64NVME_CHECK),
                                      "ChecksumType": "FULL_OBJECT"}
    assert attributes["ETag"] == hashlib.md5(CHECK).hexdigest()
    assert (attributes["ObjectSize"], attributes["StorageClass"]) == (9, "STANDARD")
    copied = plain_s3.copy_object(Bucket=bucket, Key="copy",
                                  CopySource={"Bucket": bucket, "Key": "k"})
    assert copied["CopyObjectResult"]["ChecksumCRC64NVME"] == b64(CRC64NVME_CHECK)


def test_boto3_validates_what_get_object_returns(s3, bucket):
    """boto3 sends a CRC32 and asks for it back on every get, and checks the body against it."""
    body = bytes(range(256)) * 1000
    s3.put_object(Bucket=bucket, Key="k", Body=body)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ChecksumCRC32"] == b64(zlib.crc32(body).to_bytes(4, "big"))
    assert got["Body"].read() == body
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["ChecksumAlgorithm"] == ["CRC32"]


def upload(s3, bucket, parts, **create):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp", **create)["UploadId"]
    algorithm = create.get("ChecksumAlgorithm")
    listed = []
    for number, body in enumerate(parts, 1):
        answer = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number,
                                Body=body, **({"ChecksumAlgorithm": algorithm}
                                              if algorithm else {}))
        entry = {"PartNumber": number, "ETag": answer["ETag"]}
        if algorithm:
            entry[f"Checksum{algorithm}"] = answer[f"Checksum{algorithm}"]
        listed.append(entry)
    return upload_id, listed


def test_composite_multipart_checksum(s3, bucket):
    parts = [b"a" * PART, b"tail"]
    upload_id, listed = upload(s3, bucket, parts, ChecksumAlgorithm="SHA256")
    assert [p["ChecksumSHA256"] for p in listed] == [b64(hashlib.sha256(p).digest())
                                                     for p in parts]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id,
                                        MultipartUpload={"Parts": listed})
    expected = b64(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts))
                   .digest()) + "-2"
    assert (done["ChecksumSHA256"], done["ChecksumType"]) == (expected, "COMPOSITE")
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["ChecksumSHA256"] == expected and got["Body"].read() == b"".join(parts)
    attributes = s3.get_object_attributes(Bucket=bucket, Key="mp",
                                          ObjectAttributes=["ObjectParts", "Checksum"])
    assert attributes["ObjectParts"]["TotalPartsCount"] == 2
    assert attributes["Checksum"]["ChecksumType"] == "COMPOSITE"


def test_full_object_multipart_checksum(s3, bucket):
    parts = [b"b" * PART, b"end"]
    upload_id, listed = upload(s3, bucket, parts, ChecksumAlgorithm="CRC32",
                               ChecksumType="FULL_OBJECT")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id,
                                        MultipartUpload={"Parts": listed})
    whole = b64(zlib.crc32(b"".join(parts)).to_bytes(4, "big"))
    assert (done["ChecksumCRC32"], done["ChecksumType"]) == (whole, "FULL_OBJECT")
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"".join(parts)


def test_multipart_checksum_rules(s3, bucket):
    upload_id, listed = upload(s3, bucket, [b"only part"], ChecksumAlgorithm="SHA256")
    listed[0]["ChecksumSHA256"] = b64(hashlib.sha256(b"other").digest())
    assert error_of(s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=upload_id,
                    MultipartUpload={"Parts": listed}) == ("InvalidPart", 400)
    assert error_of(s3.upload_part, Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=2,
                    Body=b"x", ChecksumAlgorithm="CRC32") == ("InvalidRequest", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert error_of(s3.create_multipart_upload, Bucket=bucket, Key="mp",
                    ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT") == (
        "InvalidRequest", 400)


def test_multipart_without_an_algorithm_keeps_a_full_object_crc64nvme(plain_s3, bucket):
    parts = [b"c" * PART, CHECK]
    upload_id, listed = upload(plain_s3, bucket, parts)
    done = plain_s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id,
                                              MultipartUpload={"Parts": listed})
    assert done["ChecksumType"] == "FULL_OBJECT" and "ChecksumCRC64NVME" in done
