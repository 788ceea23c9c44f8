"""ListObjectsV2 and ListObjects: order, prefixes, delimiters, pages, URL encoding."""

from __future__ import annotations

import pytest
from s3_kit import error_of
from testkit import signed_http

KEYS = ["a.txt", "dir/one.csv", "dir/sub/deep.csv", "dir/two.csv", "dir2/x", "z b+c/é",
        "zz/"]


@pytest.fixture
def filled(s3, bucket) -> str:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def all_keys(s3, bucket: str, **kwargs) -> tuple[list[str], list[str]]:
    keys, prefixes = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, **kwargs):
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes


def test_keys_in_binary_order_with_sizes(s3, filled):
    listed = s3.list_objects_v2(Bucket=filled)
    assert [o["Key"] for o in listed["Contents"]] == sorted(KEYS, key=str.encode)
    assert listed["KeyCount"] == len(KEYS)
    assert not listed["IsTruncated"]
    sizes = {o["Key"]: o["Size"] for o in listed["Contents"]}
    assert sizes == {key: len(key.encode()) for key in KEYS}
    assert all(o["ETag"].startswith('"') and o["StorageClass"] == "STANDARD"
               for o in listed["Contents"])


def test_prefix(s3, filled):
    listed = s3.list_objects_v2(Bucket=filled, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/one.csv", "dir/sub/deep.csv",
                                                      "dir/two.csv"]
    assert listed["Prefix"] == "dir/"
    assert s3.list_objects_v2(Bucket=filled, Prefix="nothing")["KeyCount"] == 0


def test_delimiter_rolls_up_common_prefixes(s3, filled):
    top = s3.list_objects_v2(Bucket=filled, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["dir/", "dir2/", "z b+c/", "zz/"]
    assert top["KeyCount"] == 5
    inner = s3.list_objects_v2(Bucket=filled, Delimiter="/", Prefix="dir/")
    assert [o["Key"] for o in inner["Contents"]] == ["dir/one.csv", "dir/two.csv"]
    assert [p["Prefix"] for p in inner["CommonPrefixes"]] == ["dir/sub/"]


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_pagination_visits_everything_once(s3, filled, page_size):
    keys, prefixes = all_keys(s3, filled, PaginationConfig={"PageSize": page_size})
    assert keys == sorted(KEYS, key=str.encode) and prefixes == []
    keys, prefixes = all_keys(s3, filled, Delimiter="/",
                              PaginationConfig={"PageSize": page_size})
    assert keys == ["a.txt"]
    assert prefixes == ["dir/", "dir2/", "z b+c/", "zz/"]


def test_page_fields(s3, filled):
    first = s3.list_objects_v2(Bucket=filled, MaxKeys=2)
    assert first["IsTruncated"] and first["KeyCount"] == 2 and first["MaxKeys"] == 2
    second = s3.list_objects_v2(Bucket=filled, MaxKeys=2,
                                ContinuationToken=first["NextContinuationToken"])
    assert second["ContinuationToken"] == first["NextContinuationToken"]
    assert [o["Key"] for o in second["Contents"]] == ["dir/sub/deep.csv", "dir/two.csv"]
    assert error_of(s3.list_objects_v2, Bucket=filled, ContinuationToken="%%%") == (
        "InvalidArgument", 400)


def test_start_after(s3, filled):
    listed = s3.list_objects_v2(Bucket=filled, StartAfter="dir/two.csv")
    assert [o["Key"] for o in listed["Contents"]] == ["dir2/x", "z b+c/é", "zz/"]
    assert listed["StartAfter"] == "dir/two.csv"


def test_list_objects_v1_markers(s3, filled):
    first = s3.list_objects(Bucket=filled, MaxKeys=3, Delimiter="/")
    assert [o["Key"] for o in first["Contents"]] == ["a.txt"]
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["dir/", "dir2/"]
    assert first["IsTruncated"] and first["NextMarker"] == "dir2/"
    rest = s3.list_objects(Bucket=filled, Delimiter="/", Marker=first["NextMarker"])
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["z b+c/", "zz/"]
    assert rest["Marker"] == "dir2/" and not rest["IsTruncated"]
    assert "Owner" in s3.list_objects(Bucket=filled)["Contents"][0]
    keys = [o["Key"] for page in s3.get_paginator("list_objects").paginate(
        Bucket=filled, PaginationConfig={"PageSize": 2}) for o in page["Contents"]]
    assert keys == sorted(KEYS, key=str.encode)


def test_url_encoding_type(filled, local_aws):
    """What the AWS CLI asks for: keys come back URL-encoded, `+` and spaces included."""
    with signed_http(local_aws) as http:
        reply = http.get(f"/{filled}", params={"list-type": "2", "encoding-type": "url",
                                               "prefix": "z b+c/"})
    assert reply.status_code == 200
    assert b"<Key>z+b%2Bc/%C3%A9</Key>" in reply.content
    assert b"<Prefix>z+b%2Bc/</Prefix>" in reply.content
    assert b"<EncodingType>url</EncodingType>" in reply.content


def test_bad_listing_arguments(s3, filled, local_aws):
    with signed_http(local_aws) as http:
        assert http.get(f"/{filled}", params={"max-keys": "many"}).status_code == 400
        assert http.get(f"/{filled}", params={"encoding-type": "base64"}).status_code == 400
    assert error_of(s3.list_objects_v2, Bucket=filled, MaxKeys=-1) == ("InvalidArgument", 400)


def test_other_delimiters_and_partial_prefixes(s3, bucket):
    for key in ("logs__2024__a", "logs__2024__b", "logs__2025__c", "logsheet", "other"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    listed = s3.list_objects_v2(Bucket=bucket, Delimiter="__", Prefix="logs")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["logs__"]
    assert [o["Key"] for o in listed["Contents"]] == ["logsheet"]
    keys, prefixes = all_keys(s3, bucket, Delimiter="__", Prefix="logs__",
                              PaginationConfig={"PageSize": 1})
    assert (keys, prefixes) == ([], ["logs__2024__", "logs__2025__"])
    owned = s3.list_objects_v2(Bucket=bucket, Prefix="other", FetchOwner=True)
    assert owned["Contents"][0]["Owner"]["ID"]
    assert "Owner" not in s3.list_objects_v2(Bucket=bucket, Prefix="other")["Contents"][0]
