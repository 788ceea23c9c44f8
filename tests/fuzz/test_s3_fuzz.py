"""The gateway's S3 under generated bad input: paths, query strings, headers and XML bodies, all
signed (so they get past authentication to S3's own parsing). Every answer is S3's 4xx (or
NotImplemented for what is not emulated) and every request gets one: no 5xx, no dropped
connection."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from fuzz_kit import FUZZ, assert_client_error, header_text, send, text, xml_documents
from hypothesis import given
from hypothesis import strategies as st

from sagepipe.clients import SigV4, client
from sagepipe.protocols.service_models import service_model

BUCKET = "fuzz-bucket"
QUERY_KEYS = ["versionId", "uploadId", "partNumber", "list-type", "max-keys", "prefix",
              "delimiter", "marker", "continuation-token", "start-after", "encoding-type",
              "key-marker", "version-id-marker", "max-parts", "part-number-marker",
              "max-buckets", "response-content-type", "response-content-disposition",
              "response-cache-control", "response-expires", "tagging", "versions", "uploads",
              "delete", "notification", "versioning", "attributes", "location", "fetch-owner",
              "acl", "policy", "x-id"]
HEADERS = ["Range", "x-amz-copy-source", "x-amz-copy-source-range", "x-amz-tagging",
           "x-amz-tagging-directive", "x-amz-metadata-directive", "If-Match", "If-None-Match",
           "If-Modified-Since", "If-Unmodified-Since", "x-amz-checksum-crc32",
           "x-amz-checksum-crc32c", "x-amz-checksum-sha256", "x-amz-checksum-crc64nvme",
           "x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm", "x-amz-checksum-type",
           "x-amz-checksum-mode", "Content-MD5", "x-amz-object-attributes",
           "x-amz-storage-class", "x-amz-meta-fuzz", "x-amz-copy-source-if-match",
           "x-amz-copy-source-if-modified-since", "x-amz-expected-bucket-owner", "x-amz-trailer",
           "x-amz-decoded-content-length", "Content-Encoding", "Content-Type", "Cache-Control",
           "Expires", "x-amz-skip-destination-validation", "x-amz-mfa", "x-amz-bucket-region",
           "x-amz-website-redirect-location", "Content-Disposition"]


def _xml_names() -> tuple[list[str], list[str]]:
    """Every element name of S3's request documents, from botocore's model."""
    model = service_model("s3")
    roots, names = set(), set()

    def walk(shape, seen):
        if shape.name in seen:
            return
        seen.add(shape.name)
        for name, member in getattr(shape, "members", {}).items():
            names.add(member.serialization.get("name", name))
            walk(member, seen)
        if shape.type_name == "list":
            names.add(shape.member.serialization.get("name", "member"))
            walk(shape.member, seen)

    for op_name in model.operation_names:
        shape = model.operation_model(op_name).input_shape
        payload = shape.serialization.get("payload") if shape else None
        if payload and shape.members[payload].type_name == "structure":
            member = shape.members[payload]
            roots.add(member.serialization.get("name", payload))
            walk(member, set())
    return sorted(roots), sorted(names)


ROOTS, ELEMENTS = _xml_names()


@pytest.fixture(scope="module")
def s3_http(fuzz_aws):
    s3 = client(fuzz_aws, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"0123456789", Tagging="a=b")
    s3.put_object(Bucket=BUCKET, Key="dir/k2", Body=b"x")
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    with httpx.Client(base_url=fuzz_aws.endpoint_url, auth=SigV4(fuzz_aws, "s3"),
                      trust_env=False, timeout=60) as http:
        yield http, upload, s3


# Path segments as sent: percent-encoded, raw `%` sequences (valid or not) kept as generated.
segments = st.one_of(st.sampled_from(["k", "dir", "k2", "", ".", "..", "%", "%2F", "%ff",
                                      "%C3%28", "k" * 1100]),
                     text.map(lambda segment: quote(segment, safe="%")))
paths = st.one_of(
    st.lists(segments, max_size=4).map(lambda parts: "/" + "/".join([BUCKET, *parts])),
    st.lists(segments, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts)))


@FUZZ
@given(data=st.data(), method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
       path=paths,
       query=st.lists(st.tuples(st.sampled_from(QUERY_KEYS), text), max_size=4),
       headers=st.dictionaries(st.sampled_from(HEADERS), header_text, max_size=4))
def test_requests_with_generated_parts(s3_http, data, method, path, query, headers):
    http, upload, _ = s3_http
    query = [(key, upload if key == "uploadId" and value == "" else value)
             for key, value in query]
    body = data.draw(st.one_of(st.just(b""), xml_documents(ROOTS, ELEMENTS)))
    url = httpx.URL(path, params=query)
    response = send(http, method, url, headers=headers, content=body)
    assert_client_error(response, f"{method} {url} {headers}")


@FUZZ
@given(op=st.sampled_from(ROOTS), body=st.data())
def test_xml_bodies_of_each_operation(s3_http, op, body):
    """Each operation that takes a document, with generated documents of its own root."""
    http, upload, _ = s3_http
    targets = {"Delete": ("POST", f"/{BUCKET}?delete"),
               "CompleteMultipartUpload": ("POST", f"/{BUCKET}/k?uploadId={upload}"),
               "Tagging": ("PUT", f"/{BUCKET}/k?tagging"),
               "VersioningConfiguration": ("PUT", f"/{BUCKET}?versioning"),
               "NotificationConfiguration": ("PUT", f"/{BUCKET}?notification"),
               "CreateBucketConfiguration": ("PUT", "/fuzz-created-bucket")}
    method, url = targets.get(op, ("PUT", f"/{BUCKET}?{op.lower()}"))
    document = body.draw(xml_documents([op], ELEMENTS))
    response = send(http, method, url, content=document,
                    headers={"Content-MD5": "", "x-amz-checksum-crc32": "AAAAAA=="})
    assert_client_error(response, f"{method} {url} {document[:300]!r}")
    response = send(http, method, url, content=document)
    assert_client_error(response, f"{method} {url} {document[:300]!r}")


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(
    ["key", "policy", "x-amz-signature", "x-amz-credential", "x-amz-algorithm", "x-amz-date",
     "Content-Type", "success_action_status", "success_action_redirect", "tagging",
     "x-amz-meta-a", "acl", "x-amz-checksum-crc32"]), text, max_size=8),
       file=st.binary(max_size=100))
def test_post_forms(s3_http, fields, file):
    """Presigned POST forms with generated fields (unsigned: the form is its own proof)."""
    http, _, _ = s3_http
    with httpx.Client(trust_env=False, timeout=60) as unsigned:
        response = send(unsigned, "POST", str(http.base_url.join(f"/{BUCKET}")), data=fields,
                        files={"file": ("f.txt", file)})
    assert_client_error(response, f"POST form {fields}")


conditions = st.one_of(
    st.dictionaries(st.sampled_from(["key", "Content-Type", "x-amz-meta-a", "acl"]), text,
                    min_size=1, max_size=1),
    st.tuples(st.sampled_from(["eq", "starts-with", "in", ""]),
              st.sampled_from(["$key", "$Content-Type", "key", "$x-amz-meta-a", "$"]),
              text).map(list),
    st.tuples(st.just("content-length-range"), st.integers(-5, 50),
              st.one_of(st.integers(-5, 50), text)).map(list),
    st.lists(st.integers(), max_size=4))


@FUZZ
@given(key=text, fields=st.dictionaries(st.sampled_from(
    ["Content-Type", "success_action_status", "success_action_redirect", "tagging",
     "x-amz-meta-a", "Cache-Control", "Expires", "x-amz-storage-class"]), text, max_size=4),
       policy=st.lists(conditions, max_size=4), file=st.binary(max_size=64))
def test_signed_post_forms(s3_http, key, fields, policy, file):
    """Forms boto3 signs, with generated fields and policy conditions: past the signature, into
    the policy's rules and the object's."""
    _, _, s3 = s3_http
    form = s3.generate_presigned_post(BUCKET, key or "k", Fields=fields, Conditions=policy)
    with httpx.Client(trust_env=False, timeout=60) as unsigned:
        response = send(unsigned, "POST", form["url"], data=form["fields"],
                        files={"file": ("f.txt", file)})
    assert_client_error(response, f"POST {form['fields']}")
