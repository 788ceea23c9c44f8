"""Bucket versioning as S3 does it: version ids on writes, the null version, delete markers and
their 404/405, reads, copies and deletes by version, ListObjectVersions and its pages."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from s3_kit import error_of


def enable(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def failure(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def test_versioning_status(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    assert error_of(s3.put_bucket_versioning, Bucket=bucket,
                    VersioningConfiguration={"Status": "Off"}) == ("MalformedXML", 400)
    assert error_of(s3.get_bucket_versioning, Bucket="no-such-bucket-here") == (
        "NoSuchBucket", 404)


def test_writes_make_versions_and_reads_pick_them(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")  # unversioned: the null version
    enable(s3, bucket)
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert len({first, second, "null"}) == 3
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"two" and got["VersionId"] == second
    for version, body in ((first, b"one"), ("null", b"before"), (second, b"two")):
        assert s3.get_object(Bucket=bucket, Key="k", VersionId=version)["Body"].read() == body
        assert s3.head_object(Bucket=bucket, Key="k", VersionId=version)["ContentLength"] == \
            len(body)
    assert error_of(s3.get_object, Bucket=bucket, Key="k",
                    VersionId="A" * 32) == ("NoSuchVersion", 404)
    assert error_of(s3.get_object, Bucket=bucket, Key="k",
                    VersionId="not-a-version") == ("InvalidArgument", 400)
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        (second, True), (first, False), ("null", False)]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


def test_delete_markers_answer_as_s3_does(s3, bucket):
    enable(s3, bucket)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

    gone = failure(s3.get_object, Bucket=bucket, Key="k")
    assert (gone["Error"]["Code"], gone["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NoSuchKey", 404)
    headers = gone["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    head = failure(s3.head_object, Bucket=bucket, Key="k")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    by_id = failure(s3.get_object, Bucket=bucket, Key="k", VersionId=marker)
    assert (by_id["Error"]["Code"], by_id["ResponseMetadata"]["HTTPStatusCode"]) == (
        "MethodNotAllowed", 405)
    assert by_id["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=kept)["Body"].read() == b"data"

    listed = s3.list_object_versions(Bucket=bucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker, True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(kept, False)]

    # Deleting the marker by its id brings the object back.
    undone = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert undone["DeleteMarker"] is True and undone["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    # Deleting a version for good: nothing left, no marker.
    assert s3.delete_object(Bucket=bucket, Key="k", VersionId=kept)["VersionId"] == kept
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    assert error_of(s3.head_object, Bucket=bucket, Key="k") == ("404", 404)


def test_a_marker_is_made_even_for_a_missing_key(s3, bucket):
    enable(s3, bucket)
    marker = s3.delete_object(Bucket=bucket, Key="never-written")
    assert marker["DeleteMarker"] is True and marker["VersionId"]
    assert [m["Key"] for m in s3.list_object_versions(Bucket=bucket)["DeleteMarkers"]] == [
        "never-written"]


def test_suspended_writes_replace_the_null_version(s3, bucket):
    enable(s3, bucket)
    versioned = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    enable(s3, bucket, "Suspended")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"null two")
    listed = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [("null", True),
                                                                 (versioned, False)]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"null two"
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True and marker["VersionId"] == "null"
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [versioned]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [
        ("null", True)]


def test_delete_objects_by_version(s3, bucket):
    enable(s3, bucket)
    one = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"2")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "VersionId": one}, {"Key": "b"}, {"Key": "c", "VersionId": "bad"}]})
    deleted = {d["Key"]: d for d in result["Deleted"]}
    assert deleted["a"]["VersionId"] == one and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] is True and deleted["b"]["DeleteMarkerVersionId"]
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [("c", "InvalidArgument")]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_from_a_version(s3, bucket):
    enable(s3, bucket)
    old = s3.put_object(Bucket=bucket, Key="src", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new")
    copied = s3.copy_object(Bucket=bucket, Key="dst",
                            CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert copied["CopySourceVersionId"] == old and copied["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"old"
    marker = s3.delete_object(Bucket=bucket, Key="src")["VersionId"]
    assert error_of(s3.copy_object, Bucket=bucket, Key="dst2",
                    CopySource={"Bucket": bucket, "Key": "src"}) == ("NoSuchKey", 404)
    assert error_of(s3.copy_object, Bucket=bucket, Key="dst2",
                    CopySource={"Bucket": bucket, "Key": "src", "VersionId": marker}) == (
        "InvalidRequest", 400)
    # copying a version of a key onto that key makes it current again
    s3.copy_object(Bucket=bucket, Key="src",
                   CopySource={"Bucket": bucket, "Key": "src", "VersionId": old})
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == b"old"


def test_a_bucket_with_versions_is_not_empty(s3, bucket):
    enable(s3, bucket)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    assert error_of(s3.delete_bucket, Bucket=bucket) == ("BucketNotEmpty", 409)
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": version},
                                                         {"Key": "k", "VersionId": marker}]})


def test_list_object_versions_pages(s3, bucket):
    enable(s3, bucket)
    expected = []
    for key in ("a", "b/one", "b/two", "c"):
        versions = [s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"]
                    for _ in range(3)]
        expected += [(key, version) for version in reversed(versions)]
    marker = s3.delete_object(Bucket=bucket, Key="a")["VersionId"]
    expected.insert(0, ("a", marker))
    seen, pages, kwargs = [], 0, {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=4, **kwargs)
        entries = [(e["Key"], e["VersionId"], e["LastModified"])
                   for e in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        # one page lists a key's versions newest first: restore that order from the two lists
        order = {(k, v): i for i, (k, v) in enumerate(expected)}
        seen += sorted(((k, v) for k, v, _ in entries), key=order.__getitem__)
        pages += 1
        assert len(entries) <= 4
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"],
                  "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == expected and pages == 4
    paginated = [(v["Key"], v["VersionId"]) for p in s3.get_paginator("list_object_versions")
                 .paginate(Bucket=bucket, PaginationConfig={"PageSize": 5})
                 for v in p.get("Versions", [])]
    assert paginated == [entry for entry in expected if entry[1] != marker]


def test_list_object_versions_prefix_delimiter_and_markers(s3, bucket):
    enable(s3, bucket)
    for key in ("a", "b/one", "b/two", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    rolled = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [v["Key"] for v in rolled["Versions"]] == ["a", "c"]
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["b/"]
    first = s3.list_object_versions(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert first["IsTruncated"] and first["NextKeyMarker"] == "b/"
    assert "NextVersionIdMarker" not in first
    rest = s3.list_object_versions(Bucket=bucket, Delimiter="/", KeyMarker="b/")
    assert [v["Key"] for v in rest["Versions"]] == ["c"]
    under = s3.list_object_versions(Bucket=bucket, Prefix="b/")
    assert [v["Key"] for v in under["Versions"]] == ["b/one", "b/two"]
    after_key = s3.list_object_versions(Bucket=bucket, KeyMarker="b/one")
    assert [v["Key"] for v in after_key["Versions"]] == ["b/two", "c"]
    assert error_of(s3.list_object_versions, Bucket=bucket,
                    VersionIdMarker="A" * 32) == ("InvalidArgument", 400)


def test_unversioned_buckets_list_null_versions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    [version] = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert (version["VersionId"], version["IsLatest"]) == ("null", True)
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"y")
    assert s3.delete_object(Bucket=bucket, Key="k").get("DeleteMarker") is None
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


def test_aws_cli_list_object_versions(s3, bucket, cli):
    enable(s3, bucket)
    for body in (b"1", b"2"):
        s3.put_object(Bucket=bucket, Key="data.csv", Body=body)
    listed = json.loads(cli("s3api", "list-object-versions", "--bucket", bucket).stdout)
    assert [v["IsLatest"] for v in listed["Versions"]] == [True, False]
    assert {v["Key"] for v in listed["Versions"]} == {"data.csv"}
