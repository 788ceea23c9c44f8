"""Bucket operations through the real gateway, as boto3 drives them."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from s3_kit import error_of
from testkit import signed_http


def test_create_head_list_delete(s3):
    name = f"lifecycle-{uuid.uuid4().hex[:8]}"
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"
    head = s3.head_bucket(Bucket=name)
    assert head["BucketRegion"] == "us-east-1"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=name)
    assert error_of(s3.head_bucket, Bucket=name) == ("404", 404)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_create_with_location_constraint(s3):
    name = f"eu-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name,
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    try:
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
        assert s3.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"
        listed = s3.list_buckets(BucketRegion="eu-west-1")["Buckets"]
        assert [b["Name"] for b in listed if b["Name"] == name] == [name]
    finally:
        s3.delete_bucket(Bucket=name)


def test_location_constraint_rules(s3, local_aws):
    name = f"loc-{uuid.uuid4().hex[:8]}"
    assert error_of(s3.create_bucket, Bucket=name, CreateBucketConfiguration={
        "LocationConstraint": "us-east-1"}) == ("InvalidLocationConstraint", 400)
    credentials = local_aws.credentials
    west = boto3.client("s3", endpoint_url=local_aws.endpoint_url, region_name="us-west-2",
                        aws_access_key_id=credentials.access_key_id,
                        aws_secret_access_key=credentials.secret_access_key)
    assert error_of(west.create_bucket, Bucket=name) == (
        "IllegalLocationConstraintException", 400)
    west.create_bucket(Bucket=name,
                       CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    try:
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "us-west-2"
    finally:
        s3.delete_bucket(Bucket=name)


@pytest.mark.parametrize("name", ["ab", "UpperCase", "under_score", "-leading", "trailing-",
                                  "two..dots", "192.168.1.10", "xn--punycode", "a" * 64,
                                  "name-s3alias"])
def test_invalid_bucket_names(s3, name):
    assert error_of(s3.create_bucket, Bucket=name) == ("InvalidBucketName", 400)


def test_bucket_already_owned(s3, bucket):
    assert error_of(s3.create_bucket, Bucket=bucket) == ("BucketAlreadyOwnedByYou", 409)


def test_missing_bucket_errors(s3):
    name = f"missing-{uuid.uuid4().hex[:8]}"
    assert error_of(s3.delete_bucket, Bucket=name) == ("NoSuchBucket", 404)
    assert error_of(s3.list_objects_v2, Bucket=name) == ("NoSuchBucket", 404)
    assert error_of(s3.put_object, Bucket=name, Key="k", Body=b"x") == ("NoSuchBucket", 404)
    assert error_of(s3.get_bucket_location, Bucket=name) == ("NoSuchBucket", 404)


def test_delete_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    assert error_of(s3.delete_bucket, Bucket=bucket) == ("BucketNotEmpty", 409)
    s3.head_bucket(Bucket=bucket)


def test_list_buckets_pages(s3):
    prefix = f"page-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{i}" for i in range(3)]
    for name in names:
        s3.create_bucket(Bucket=name)
    try:
        first = s3.list_buckets(Prefix=prefix, MaxBuckets=2)
        assert [b["Name"] for b in first["Buckets"]] == names[:2]
        second = s3.list_buckets(Prefix=prefix, MaxBuckets=2,
                                 ContinuationToken=first["ContinuationToken"])
        assert [b["Name"] for b in second["Buckets"]] == names[2:]
        assert "ContinuationToken" not in second
        assert second["Owner"]["ID"]
    finally:
        for name in names:
            s3.delete_bucket(Bucket=name)


def test_unemulated_operation_is_a_clean_501(s3, bucket):
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_policy(Bucket=bucket)
    error = caught.value.response["Error"]
    assert error["Code"] == "NotImplemented"
    assert "GetBucketPolicy" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_wrong_expected_owner_is_denied(s3, bucket):
    assert error_of(s3.list_objects_v2, Bucket=bucket, ExpectedBucketOwner="111111111111") == (
        "AccessDenied", 403)


def test_virtual_host_style(s3, bucket, local_aws):
    """`Host: <bucket>.localhost` names the bucket, the path the key."""
    host = f"{bucket}.localhost:{local_aws.port}"
    with signed_http(local_aws, headers={"Host": host}) as http:
        assert http.put("/dir/vhost.txt", content=b"virtual").status_code == 200
        assert http.get("/dir/vhost.txt").content == b"virtual"
        listing = http.get("/", params={"list-type": "2"})
    assert listing.status_code == 200
    assert b"<Key>dir/vhost.txt</Key>" in listing.content
    assert s3.get_object(Bucket=bucket, Key="dir/vhost.txt")["Body"].read() == b"virtual"
