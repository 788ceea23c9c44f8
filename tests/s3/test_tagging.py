"""Object tagging: the tag set of a version, set with the object or after, S3's limits, the
TagCount GetObject answers, and what copies and multipart uploads do with tags."""

from __future__ import annotations

import pytest
from s3_kit import error_of

TAGS = [{"Key": "team", "Value": "ml"}, {"Key": "stage", "Value": "prod/v1"}]


def test_put_get_delete_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")
    modified = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": TAGS})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == TAGS
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["TagCount"] == 2 and got["LastModified"] == modified
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert error_of(s3.get_object_tagging, Bucket=bucket, Key="missing") == ("NoSuchKey", 404)


def test_tags_with_the_object_and_on_multipart_uploads(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="team=ml&stage=prod%2Fv1")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == TAGS
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m",
                                           Tagging="team=ml")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1,
                          Body=b"part")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="m")["TagSet"] == [
        {"Key": "team", "Value": "ml"}]


def test_tags_of_a_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    tagged = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=old,
                                   Tagging={"TagSet": TAGS})
    assert tagged["VersionId"] == old
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=old)["TagSet"] == TAGS
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 2  # no new version


def test_copies_keep_or_replace_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="team=ml")
    s3.copy_object(Bucket=bucket, Key="kept", CopySource={"Bucket": bucket, "Key": "src"})
    assert s3.get_object_tagging(Bucket=bucket, Key="kept")["TagSet"] == [
        {"Key": "team", "Value": "ml"}]
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="owner=qa")
    assert s3.get_object_tagging(Bucket=bucket, Key="replaced")["TagSet"] == [
        {"Key": "owner", "Value": "qa"}]
    assert error_of(s3.copy_object, Bucket=bucket, Key="x",
                    CopySource={"Bucket": bucket, "Key": "src"},
                    TaggingDirective="MERGE") == ("InvalidArgument", 400)


@pytest.mark.parametrize("tags, code", [
    ([{"Key": f"k{i}", "Value": "v"} for i in range(11)], "BadRequest"),
    ([{"Key": "same", "Value": "1"}, {"Key": "same", "Value": "2"}], "InvalidTag"),
    ([{"Key": "k" * 129, "Value": "v"}], "InvalidTag"),
    ([{"Key": "k", "Value": "v" * 257}], "InvalidTag"),
    ([{"Key": "aws:reserved", "Value": "v"}], "InvalidTag"),
    ([{"Key": "bad#char", "Value": "v"}], "InvalidTag"),
    ([{"Key": "k", "Value": "semi;colon"}], "InvalidTag"),
])
def test_tag_limits(s3, bucket, tags, code):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_of(s3.put_object_tagging, Bucket=bucket, Key="k",
                    Tagging={"TagSet": tags}) == (code, 400)
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_limits_hold_at_their_bounds(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    tags = [{"Key": f"ключ {i}" + "k" * 120, "Value": "v" * 256} for i in range(10)]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == tags


@pytest.mark.parametrize("header", ["a=1&a=2", "novalue", "a=1&&b=2"])
def test_bad_tagging_header(s3, bucket, header):
    assert error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", Tagging=header) == (
        "InvalidArgument", 400)
    assert error_of(s3.head_object, Bucket=bucket, Key="k") == ("404", 404)
