"""REST-XML (S3's protocol) as the inverse of botocore: labels, query, headers and XML payloads
read back as sent; headers and XML bodies, and S3's `<Error>` documents, read back by
botocore's parser."""

from __future__ import annotations

import datetime as dt

import pytest
from wire_kit import answered, as_epochs, parsed, refused

from sagepipe.protocols import protocol_for
from sagepipe.protocols.rest_xml import InvalidArgument, MethodNotAllowed
from sagepipe.protocols.service_models import service_model
from sagepipe.protocols.wire import WireRequest
from sagepipe.s3.exceptions import NoSuchKey, PreconditionFailed

AT = dt.datetime(2026, 11, 22, 5, 26, 24, tzinfo=dt.UTC)


@pytest.mark.parametrize("operation, params", [
    ("PutObject", {"Bucket": "artifacts", "Key": "p/commit/model.tar.gz", "ContentLength": 0,
                   "ContentType": "application/gzip", "Metadata": {"commit": "1a2b3c"},
                   "StorageClass": "STANDARD_IA", "CacheControl": "no-cache"}),
    ("GetObject", {"Bucket": "artifacts", "Key": "odd key/é+%/..", "Range": "bytes=0-9",
                   "IfModifiedSince": AT, "ResponseContentType": "text/plain"}),
    ("ListObjectsV2", {"Bucket": "artifacts", "Prefix": "p/", "Delimiter": "/",
                       "MaxKeys": 10, "ContinuationToken": "abc", "FetchOwner": True}),
    ("DeleteObjects", {"Bucket": "artifacts", "Delete": {
        "Objects": [{"Key": "a"}, {"Key": "b/c"}], "Quiet": True}}),
    ("CompleteMultipartUpload", {"Bucket": "artifacts", "Key": "big", "UploadId": "u-1",
                                 "MultipartUpload": {"Parts": [
                                     {"PartNumber": 1, "ETag": '"e1"'},
                                     {"PartNumber": 2, "ETag": '"e2"'}]}}),
    ("CreateBucket", {"Bucket": "artifacts", "CreateBucketConfiguration": {
        "LocationConstraint": "eu-west-1"}}),
])
def test_requests_read_back_as_sent(operation, params):
    assert parsed("s3", operation, params) == (operation, as_epochs(params))


@pytest.mark.parametrize("operation, result", [
    ("ListObjectsV2", {"Name": "artifacts", "Prefix": "p/", "KeyCount": 1, "MaxKeys": 10,
                       "IsTruncated": True, "NextContinuationToken": "n", "Delimiter": "/",
                       "Contents": [{"Key": "p/a.csv", "LastModified": AT, "ETag": '"e"',
                                     "Size": 3, "StorageClass": "STANDARD"}],
                       "CommonPrefixes": [{"Prefix": "p/sub/"}]}),
    ("HeadObject", {"ContentLength": 3, "ContentType": "text/csv", "ETag": '"e"',
                    "LastModified": AT, "Metadata": {"commit": "1a2b3c"}}),
    ("CreateMultipartUpload", {"Bucket": "artifacts", "Key": "big", "UploadId": "u-1"}),
])
def test_answers_read_back_as_returned(operation, result):
    assert answered("s3", operation, result) == result


@pytest.mark.parametrize("error, method, expected", [
    (NoSuchKey("The specified key does not exist.", Key="absent"), "GET",
     {"Code": "NoSuchKey", "Message": "The specified key does not exist.", "Key": "absent"}),
    (PreconditionFailed("At least one of the pre-conditions you specified did not hold",
                        Condition="If-Match"), "PUT",
     {"Code": "PreconditionFailed", "Condition": "If-Match",
      "Message": "At least one of the pre-conditions you specified did not hold"}),
    (NoSuchKey("The specified key does not exist."), "HEAD",  # a HEAD answer has no body
     {"Code": "404", "Message": "Not Found"}),
])
def test_errors_read_back_with_their_code_fields_and_status(error, method, expected):
    assert refused("s3", "GetObject", error, method) == (expected, error.status)


def test_routes_prefer_the_most_specific_then_the_implemented_operation():
    protocol = protocol_for(service_model("s3"), frozenset({"ListObjectsV2", "ListObjects"}))
    for query, name in (("list-type=2&prefix=a", "ListObjectsV2"), ("prefix=a", "ListObjects"),
                        ("uploads", "ListMultipartUploads"), ("location", "GetBucketLocation")):
        assert protocol.operation(WireRequest.of("GET", "/bucket", query)).name == name
    assert protocol.operation(WireRequest.of("PUT", "/bucket/a//b/", "")).name == "PutObject"
    with pytest.raises(MethodNotAllowed):
        protocol.operation(WireRequest.of("POST", "/bucket/key"))


def test_text_that_is_not_of_its_members_type_is_an_invalid_argument():
    protocol = protocol_for(service_model("s3"))
    request = WireRequest.of("GET", "/bucket", "list-type=2&max-keys=many")
    with pytest.raises(InvalidArgument) as caught:
        protocol.parse(protocol.operation(request), request)
    assert caught.value.extra == {"ArgumentName": "max-keys", "ArgumentValue": "many"}
