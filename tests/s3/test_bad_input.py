"""Bad input that once got a 500 or no answer at all (issue 12): each gets S3's 4xx now."""

from __future__ import annotations

import email.header

import pytest
from s3_kit import error_of
from testkit import signed_http


@pytest.fixture
def raw(local_aws):
    with signed_http(local_aws) as http:
        yield http


def test_range_of_thousands_of_digits(s3, bucket, raw):
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    huge = "9" * 5000
    beyond = raw.get(f"/{bucket}/k", headers={"Range": f"bytes={huge}-"})
    assert beyond.status_code == 416 and b"<Code>InvalidRange</Code>" in beyond.content
    assert beyond.headers["Content-Range"] == "bytes */5"
    clamped = raw.get(f"/{bucket}/k", headers={"Range": f"bytes=1-{huge}"})
    assert clamped.status_code == 206 and clamped.content == b"ello"
    suffix = raw.get(f"/{bucket}/k", headers={"Range": f"bytes=-{huge}"})
    assert suffix.status_code == 206 and suffix.content == b"hello"


def test_list_parts_marker_past_any_part_number(s3, bucket, raw):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1, Body=b"x")
    listed = s3.list_parts(Bucket=bucket, Key="m", UploadId=upload_id,
                           PartNumberMarker=2**63)
    assert listed.get("Parts", []) == [] and not listed["IsTruncated"]
    negative = raw.get(f"/{bucket}/m", params={"uploadId": upload_id,
                                               "part-number-marker": "-1"})
    assert negative.status_code == 400 and b"InvalidArgument" in negative.content
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id)


@pytest.mark.parametrize("parameter", ["response-content-type",
                                       "response-content-disposition",
                                       "response-cache-control"])
@pytest.mark.parametrize("control", ["\r", "\n", "\x00", "\r\nSet-Cookie: a=b"])
def test_response_override_with_control_characters_is_400(s3, bucket, raw, parameter,
                                                           control):
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    reply = raw.get(f"/{bucket}/k", params={parameter: f"text/plain{control}x"})
    assert reply.status_code == 400
    assert b"<Code>InvalidArgument</Code>" in reply.content
    assert f"<ArgumentName>{parameter}</ArgumentName>".encode() in reply.content
    assert "set-cookie" not in reply.headers


def test_response_override_with_non_ascii_text(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    got = s3.get_object(Bucket=bucket, Key="k",
                        ResponseContentDisposition='attachment; filename="résumé €.txt"')
    assert got["Body"].read() == b"hello"
    decoded = email.header.decode_header(got["ContentDisposition"])
    assert b"".join(part for part, _ in decoded).decode() == \
        'attachment; filename="résumé €.txt"'


def test_complete_listing_a_part_twice_is_invalid_part_order(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1,
                          Body=b"x")["ETag"]
    part = {"PartNumber": 1, "ETag": etag}
    assert error_of(s3.complete_multipart_upload, Bucket=bucket, Key="m", UploadId=upload_id,
                    MultipartUpload={"Parts": [part, part]}) == ("InvalidPartOrder", 400)
    assert error_of(s3.head_object, Bucket=bucket, Key="m") == ("404", 404)
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id)
