"""Object operations through the real gateway: bytes, headers, errors, keys of every shape."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError
from s3_kit import error_of
from testkit import signed_http

ODD_KEYS = ["with space.txt", "plus+sign", "ünïcødé/ключ/鍵.csv", "dots/../up", "double//slash",
            "trailing/", "./dot", "percent%20literal", "query?and#hash", "tab\tkey",
            "k" * 1024]


@pytest.mark.parametrize("key", ODD_KEYS, ids=lambda k: k[:20])
def test_odd_keys_round_trip(s3, bucket, key):
    body = key.encode()[:100] + b"!"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_too_long(s3, bucket):
    assert error_of(s3.put_object, Bucket=bucket, Key="k" * 1025, Body=b"x") == (
        "KeyTooLongError", 400)


def test_put_get_head_with_headers_and_metadata(s3, bucket):
    body = b"a,b\n1,2\n"
    put = s3.put_object(Bucket=bucket, Key="data.csv", Body=body, ContentType="text/csv",
                        Metadata={"Origin": "unit-test", "rows": "1"},
                        CacheControl="max-age=60", ContentDisposition="attachment")
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ETag"] == etag
    got = s3.get_object(Bucket=bucket, Key="data.csv")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/csv"
    assert got["ContentLength"] == len(body)
    assert got["ETag"] == etag
    assert got["Metadata"] == {"origin": "unit-test", "rows": "1"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "attachment"
    assert got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=bucket, Key="data.csv")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == etag
    assert head["LastModified"] == got["LastModified"]
    overridden = s3.get_object(Bucket=bucket, Key="data.csv", ResponseContentType="text/plain")
    assert overridden["ContentType"] == "text/plain"


def test_default_content_type_and_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'


def test_overwrite_replaces_bytes_and_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", Metadata={"v": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second"
    assert got["Metadata"] == {}


def test_missing_key(s3, bucket):
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="nope/nothing")
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"
    assert caught.value.response["Error"]["Key"] == "nope/nothing"
    assert error_of(s3.head_object, Bucket=bucket, Key="nope") == ("404", 404)


def test_error_document_and_request_id(bucket, local_aws):
    with signed_http(local_aws) as http:
        reply = http.get(f"/{bucket}/absent")
        head = http.head(f"/{bucket}/absent")
    assert reply.status_code == 404
    error = ET.fromstring(reply.content)
    assert error.tag == "Error"
    assert error.findtext("Code") == "NoSuchKey"
    assert error.findtext("Key") == "absent"
    assert error.findtext("Message")
    assert error.findtext("RequestId") == reply.headers["x-amz-request-id"]
    assert head.status_code == 404
    assert head.content == b""


def test_content_md5(s3, bucket):
    body = b"checked"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="ok", Body=body, ContentMD5=good)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert error_of(s3.put_object, Bucket=bucket, Key="bad", Body=body, ContentMD5=wrong) == (
        "BadDigest", 400)
    assert error_of(s3.put_object, Bucket=bucket, Key="bad", Body=body,
                    ContentMD5="not-base64!") == ("InvalidDigest", 400)
    assert error_of(s3.head_object, Bucket=bucket, Key="bad") == ("404", 404)


def test_checksum_header_is_verified(bucket, local_aws):
    """A body that does not match its x-amz-checksum-crc32 is refused and not stored."""
    with signed_http(local_aws) as http:
        bad = http.put(f"/{bucket}/crc", content=b"payload",
                       headers={"x-amz-checksum-crc32": base64.b64encode(b"\0\0\0\0").decode()})
        missing = http.get(f"/{bucket}/crc")
    assert bad.status_code == 400
    assert b"<Code>BadDigest</Code>" in bad.content
    assert missing.status_code == 404


def test_ranges(s3, bucket):
    body = bytes(range(100))
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    cases = {"bytes=0-9": (0, 9), "bytes=90-": (90, 99), "bytes=-5": (95, 99),
             "bytes=95-200": (95, 99)}
    for header, (first, last) in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["Body"].read() == body[first:last + 1], header
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == f"bytes {first}-{last}/100"
    assert error_of(s3.get_object, Bucket=bucket, Key="r", Range="bytes=100-") == (
        "InvalidRange", 416)
    whole = s3.get_object(Bucket=bucket, Key="r", Range="bytes=5-1")  # invalid: ignored
    assert whole["Body"].read() == body


def test_conditional_reads(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"cond")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    assert error_of(s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=etag) == ("304", 304)
    assert error_of(s3.get_object, Bucket=bucket, Key="c", IfModifiedSince=modified) == (
        "304", 304)
    assert error_of(s3.get_object, Bucket=bucket, Key="c", IfMatch='"0000"') == (
        "PreconditionFailed", 412)
    past = modified - dt.timedelta(days=1)
    assert error_of(s3.get_object, Bucket=bucket, Key="c", IfUnmodifiedSince=past) == (
        "PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfModifiedSince=past)[
        "Body"].read() == b"cond"


def test_conditional_write(s3, bucket):
    s3.put_object(Bucket=bucket, Key="once", Body=b"1", IfNoneMatch="*")
    assert error_of(s3.put_object, Bucket=bucket, Key="once", Body=b"2", IfNoneMatch="*") == (
        "PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"1"


def test_delete_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"][
        "HTTPStatusCode"] == 204
    assert error_of(s3.head_object, Bucket=bucket, Key="gone") == ("404", 404)
    s3.delete_object(Bucket=bucket, Key="never-was")  # deleting nothing succeeds, as in S3


def test_delete_objects(s3, bucket):
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a"}, {"Key": "b"}, {"Key": "missing"}, {"Key": "k" * 1025}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b", "missing"]
    assert [(e["Key"][:3], e["Code"]) for e in result["Errors"]] == [("kkk", "KeyTooLongError")]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_needs_a_digest_and_valid_xml(bucket, local_aws):
    body = b"<Delete><Object><Key>a</Key></Object></Delete>"
    with signed_http(local_aws) as http:
        unsigned = http.post(f"/{bucket}", params={"delete": ""}, content=body)
        md5 = base64.b64encode(hashlib.md5(b"<Delete><oops").digest()).decode()
        broken = http.post(f"/{bucket}", params={"delete": ""}, content=b"<Delete><oops",
                           headers={"Content-MD5": md5})
    assert unsigned.status_code == 400 and b"<Code>InvalidRequest</Code>" in unsigned.content
    assert broken.status_code == 400 and b"<Code>MalformedXML</Code>" in broken.content


def test_copy_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src/ä b+c", Body=b"copy me", ContentType="text/plain",
                  Metadata={"m": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst/kept",
                            CopySource={"Bucket": bucket, "Key": "src/ä b+c"})
    kept = s3.get_object(Bucket=bucket, Key="dst/kept")
    assert kept["Body"].read() == b"copy me"
    assert kept["Metadata"] == {"m": "1"} and kept["ContentType"] == "text/plain"
    assert copied["CopyObjectResult"]["ETag"] == kept["ETag"]
    s3.copy_object(Bucket=bucket, Key="dst/replaced", CopySource=f"{bucket}/src/ä b+c",
                   MetadataDirective="REPLACE", Metadata={"n": "2"},
                   ContentType="application/json")
    replaced = s3.head_object(Bucket=bucket, Key="dst/replaced")
    assert replaced["Metadata"] == {"n": "2"}
    assert replaced["ContentType"] == "application/json"
    s3.put_object(Bucket=bucket, Key="src/ä b+c", Body=b"changed")  # copies are independent
    assert s3.get_object(Bucket=bucket, Key="dst/kept")["Body"].read() == b"copy me"


def test_copy_object_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"x")
    assert error_of(s3.copy_object, Bucket=bucket, Key="self",
                    CopySource={"Bucket": bucket, "Key": "self"}) == ("InvalidRequest", 400)
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
                   MetadataDirective="REPLACE", Metadata={"touched": "yes"})
    assert error_of(s3.copy_object, Bucket=bucket, Key="to",
                    CopySource={"Bucket": bucket, "Key": "absent"}) == ("NoSuchKey", 404)
    assert error_of(s3.copy_object, Bucket=bucket, Key="to",
                    CopySource={"Bucket": "no-such-bucket-here", "Key": "x"}) == (
        "NoSuchBucket", 404)
    assert error_of(s3.copy_object, Bucket=bucket, Key="to",
                    CopySource={"Bucket": bucket, "Key": "self"},
                    CopySourceIfMatch='"nope"') == ("PreconditionFailed", 412)


def test_method_not_allowed_is_clean(bucket, local_aws):
    with signed_http(local_aws) as http:
        reply = http.post(f"/{bucket}/key")
    assert reply.status_code == 405
    assert b"<Code>MethodNotAllowed</Code>" in reply.content


def test_modeled_errors_raise_botocore_typed_exceptions(s3, bucket):
    """Codes match botocore's S3 error shapes, so boto3's typed exceptions work."""
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="absent")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket=f"{bucket}-absent")
    with pytest.raises(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="absent")
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    with pytest.raises(s3.exceptions.InvalidObjectState):
        s3.get_object(Bucket=bucket, Key="cold")
