"""Presigned POST: forms made by boto3's generate_presigned_post, uploaded as a browser would
(multipart/form-data, no request signature), checked against their signed policy."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

NS = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}


def post(form, file=b"hello", filename="data.csv", **fields):
    return httpx.post(form["url"], data={**form["fields"], **fields},
                      files={"file": (filename, file)}, trust_env=False, timeout=30)


def code_of(reply) -> str:
    return ET.fromstring(reply.content).findtext("Code")


def test_upload_with_conditions_and_metadata(s3, bucket):
    form = s3.generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"Content-Type": "text/csv", "x-amz-meta-origin": "browser",
                "success_action_status": "201"},
        Conditions=[["starts-with", "$Content-Type", "text/"], {"x-amz-meta-origin": "browser"},
                    {"success_action_status": "201"}, ["content-length-range", 1, 1000]],
        ExpiresIn=300)
    reply = post(form, b"a,b\n1,2\n", filename="rows.csv")
    assert reply.status_code == 201, reply.text
    document = ET.fromstring(reply.content)
    assert document.findtext("Key") == "uploads/rows.csv"
    assert document.findtext("Bucket") == bucket
    got = s3.get_object(Bucket=bucket, Key="uploads/rows.csv")
    assert got["Body"].read() == b"a,b\n1,2\n"
    assert (got["ContentType"], got["Metadata"]) == ("text/csv", {"origin": "browser"})
    assert got["ETag"] == document.findtext("ETag")


def test_default_answer_and_redirect(s3, bucket):
    plain = s3.generate_presigned_post(bucket, "plain.txt")
    reply = post(plain)
    assert reply.status_code == 204 and reply.headers["ETag"]
    assert s3.get_object(Bucket=bucket, Key="plain.txt")["Body"].read() == b"hello"
    redirect = "http://127.0.0.1:9/done"
    form = s3.generate_presigned_post(bucket, "r.txt",
                                      Fields={"success_action_redirect": redirect},
                                      Conditions=[{"success_action_redirect": redirect}])
    reply = post(form)
    assert reply.status_code == 303
    target = urlsplit(reply.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == redirect
    assert parse_qs(target.query)["key"] == ["r.txt"]


@pytest.mark.parametrize("change, code, message", [
    ({"key": "elsewhere.txt"}, "AccessDenied", "Policy Condition failed"),
    ({"x-amz-meta-extra": "1"}, "AccessDenied", "Extra input fields: x-amz-meta-extra"),
    ({"x-amz-signature": "0" * 64}, "SignatureDoesNotMatch", "signature"),
    ({"x-amz-credential": "AKIANOTOURS000000000/20250101/us-east-1/s3/aws4_request"},
     "InvalidAccessKeyId", "Access Key"),
    ({"policy": "not base64!"}, "SignatureDoesNotMatch", "signature"),
])
def test_forms_the_policy_does_not_allow(s3, bucket, change, code, message):
    form = s3.generate_presigned_post(bucket, "fixed.txt")
    reply = post(form, **change)
    assert reply.status_code in (400, 403) and code_of(reply) == code, reply.text
    assert message in ET.fromstring(reply.content).findtext("Message")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_expired_policy(s3, bucket):
    form = s3.generate_presigned_post(bucket, "late.txt", ExpiresIn=-60)
    reply = post(form)
    assert (reply.status_code, code_of(reply)) == (403, "AccessDenied")
    assert "Policy expired" in reply.text


def test_size_range(s3, bucket):
    form = s3.generate_presigned_post(bucket, "sized.bin",
                                      Conditions=[["content-length-range", 2, 4]])
    assert code_of(post(form, b"12345")) == "EntityTooLarge"
    assert code_of(post(form, b"1")) == "EntityTooSmall"
    assert post(form, b"123").status_code == 204
    assert s3.get_object(Bucket=bucket, Key="sized.bin")["Body"].read() == b"123"


def test_malformed_forms(s3, bucket, local_aws):
    form = s3.generate_presigned_post(bucket, "f.txt")
    no_file = httpx.post(form["url"], data=form["fields"], files={"other": ("x", b"x")},
                         trust_env=False)
    assert (no_file.status_code, code_of(no_file)) == (400, "InvalidArgument")
    broken = httpx.post(form["url"], content=b"--xx\r\nnot a form",
                        headers={"Content-Type": "multipart/form-data; boundary=xx"},
                        trust_env=False)
    assert broken.status_code == 400 and code_of(broken) in ("MalformedPOSTRequest",
                                                             "InvalidArgument")
    missing = s3.generate_presigned_post("no-such-bucket-for-post", "f.txt")
    assert code_of(post(missing)) == "NoSuchBucket"
