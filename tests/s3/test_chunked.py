"""aws-chunked uploads: AWS's own worked example of signed chunks (S3 API reference, "Transferring
payload in multiple chunks") verifies end to end, and botocore's aws-chunked writer with a
trailing checksum is stored byte for byte by the local S3; a tampered chunk, a bad trailing
checksum or a cut body are refused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import zlib

import httpx
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from sagepipe.s3.chunked import ChunkedDecoder
from sagepipe.s3.exceptions import IncompleteBody
from sagepipe.sigv4 import AccessRefused, Received, Refusal, verify

# The example's request, its secret and its published signatures.
EXAMPLE_SECRETS = {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
EXAMPLE_HEADERS = {
    "host": "s3.amazonaws.com", "x-amz-date": "20130524T000000Z",
    "x-amz-storage-class": "REDUCED_REDUNDANCY", "content-encoding": "aws-chunked",
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "x-amz-decoded-content-length": "66560", "content-length": "66824",
    "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                     "aws4_request,SignedHeaders=content-encoding;content-length;host;"
                     "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                     "x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa"
                     "4adea153f7db9fa80a0a9"}
EXAMPLE_CHUNKS = [
    (65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    (1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")]


def example_body(chunks=EXAMPLE_CHUNKS) -> bytes:
    return b"".join(f"{size:x};chunk-signature={sig}\r\n".encode() + b"a" * size + b"\r\n"
                    for size, sig in chunks)


def example_signature():
    return verify(Received("PUT", "/examplebucket/chunkObject.txt", "", EXAMPLE_HEADERS),
                  EXAMPLE_SECRETS, body=None, s3=True,
                  now=dt.datetime(2013, 5, 24, 0, 1, tzinfo=dt.UTC))


def decode(decoder: ChunkedDecoder, body: bytes, piece: int) -> bytes:
    return b"".join(b"".join(decoder.feed(body[i:i + piece])) for i in range(0, len(body), piece))


@pytest.mark.parametrize("piece", [1, 777, 1 << 20])  # however the network splits it
def test_the_aws_example_verifies_and_decodes(piece):
    signature = example_signature()  # the seed: the example's Authorization signature
    assert signature.signature == EXAMPLE_HEADERS["authorization"].rpartition("=")[2]
    body = example_body()
    assert len(body) == int(EXAMPLE_HEADERS["content-length"])
    decoder = ChunkedDecoder(signature)
    assert decode(decoder, body, piece) == b"a" * 66560
    assert decoder.finish() == {}


def test_a_tampered_or_cut_example_is_refused():
    tampered = example_body().replace(b"a" * 10, b"b" * 10, 1)
    with pytest.raises(AccessRefused) as caught:
        decode(ChunkedDecoder(example_signature()), tampered, 4096)
    assert caught.value.refusal is Refusal.MISMATCH
    cut = ChunkedDecoder(example_signature())
    decode(cut, example_body()[:-60], 4096)
    with pytest.raises(IncompleteBody):
        cut.finish()
    unsigned_chunk = example_body().replace(b";chunk-signature=ad80", b";x=ad80", 1)
    with pytest.raises(IncompleteBody, match="no chunk-signature"):
        decode(ChunkedDecoder(example_signature()), unsigned_chunk, 4096)


def chunked_put(settings, url: str, data: bytes, *, crc: bytes | None = None) -> httpx.Response:
    """What botocore sends for an upload with a trailing checksum over TLS: an aws-chunked body
    (botocore's own writer), `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, signed by its S3 signer."""
    body = AwsChunkedWrapper(io.BytesIO(data), Crc32Checksum, "x-amz-checksum-crc32",
                             chunk_size=64 * 1024).read()
    if crc is not None:
        wrong = base64.b64encode(crc).decode()
        body = body.rpartition(b"x-amz-checksum-crc32:")[0] + \
            f"x-amz-checksum-crc32:{wrong}\r\n\r\n".encode()
    request = AWSRequest("PUT", url, data=body, headers={
        "Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Decoded-Content-Length": str(len(data)), "Content-Type": "text/csv"})
    request.context["checksum"] = {"request_algorithm": {
        "in": "trailer", "algorithm": "crc32", "name": "x-amz-checksum-crc32"}}
    credentials = settings.credentials
    S3SigV4Auth(Credentials(credentials.access_key_id, credentials.secret_access_key), "s3",
                settings.region).add_auth(request)
    assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    return httpx.put(url, content=body, headers=dict(request.headers), trust_env=False)


def test_botocores_aws_chunked_upload_with_a_trailing_checksum_is_stored(local_aws, s3, bucket):
    data = bytes(range(256)) * 1000  # several chunks
    reply = chunked_put(local_aws, f"{local_aws.endpoint_url}/{bucket}/chunked.bin", data)
    assert reply.status_code == 200, reply.text
    stored = s3.get_object(Bucket=bucket, Key="chunked.bin")
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "text/csv"
    assert "ContentEncoding" not in stored  # aws-chunked is how it travelled, not what it is


def test_a_wrong_trailing_checksum_is_refused_and_nothing_stored(local_aws, s3, bucket):
    data = b"x" * 100_000
    wrong = (zlib.crc32(data) ^ 1).to_bytes(4, "big")
    reply = chunked_put(local_aws, f"{local_aws.endpoint_url}/{bucket}/bad.bin", data, crc=wrong)
    assert reply.status_code == 400 and b"<Code>BadDigest</Code>" in reply.content
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_signed_chunks_are_checked_against_the_seed_signature(local_aws, s3, bucket):
    """A signed streaming upload, signed here as the example shows (independently of the
    server's code): accepted, and refused once one chunk's signature is wrong."""
    credentials = local_aws.credentials
    data = [b"first chunk " * 6000, b"second"]
    url = f"{local_aws.endpoint_url}/{bucket}/signed.bin"

    def upload(break_chunk: int | None) -> httpx.Response:
        request = AWSRequest("PUT", url, headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "X-Amz-Decoded-Content-Length": str(sum(map(len, data)))})
        # The generic signer keeps the declared payload hash (S3's would replace it).
        SigV4Auth(Credentials(credentials.access_key_id, credentials.secret_access_key), "s3",
                  "us-east-1").add_auth(request)
        seed = request.headers["Authorization"].rpartition("Signature=")[2]
        stamp = request.headers["X-Amz-Date"]
        scope = f"{stamp[:8]}/us-east-1/s3/aws4_request"
        key = ("AWS4" + credentials.secret_access_key).encode()
        for part in (stamp[:8], "us-east-1", "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        body, previous = b"", seed
        for i, chunk in enumerate([*data, b""]):
            text = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", stamp, scope, previous,
                              hashlib.sha256(b"").hexdigest(), hashlib.sha256(chunk).hexdigest()])
            signature = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
            shown = "0" * 64 if i == break_chunk else signature
            body += f"{len(chunk):x};chunk-signature={shown}\r\n".encode() + chunk + b"\r\n"
            previous = signature
        return httpx.put(url, content=body, headers=dict(request.headers), trust_env=False)

    assert upload(None).status_code == 200
    assert s3.get_object(Bucket=bucket, Key="signed.bin")["Body"].read() == b"".join(data)
    refused = upload(1)
    assert refused.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in \
        refused.content
    assert s3.get_object(Bucket=bucket, Key="signed.bin")["Body"].read() == b"".join(data)
