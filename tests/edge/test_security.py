"""Only the home's owner may use the local AWS (issue 12, Security): every request must be
addressed to a loopback name and signed with the home's credentials, and is refused otherwise
with AWS's own code in each protocol; the home and its credentials are private to their owner.
One test per rule, each across the protocols: S3 (REST-XML), SageMaker (JSON), SageMaker
Runtime (REST-JSON), STS (query) and the gateway's own routes."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.auth
import httpx
import pytest
from botocore.config import Config
from testkit import client_for, free_port, signed_headers

from sagepipe.config import Settings
from sagepipe.server import start_background, stop
from sagepipe.sigv4 import sign

FORM = "application/x-www-form-urlencoded; charset=utf-8"


@dataclass(frozen=True)
class Call:
    """A call in one protocol, and how that protocol says who refused it."""

    protocol: str
    service: str  # the signing name
    method: str
    path: str
    headers: dict
    body: bytes = b""

    def error_code(self, reply: httpx.Response) -> str:
        if self.protocol in ("rest-xml", "query"):  # query answers carry a namespace
            return next(e.text for e in ET.fromstring(reply.content).iter()
                        if e.tag.rpartition("}")[2] == "Code")
        if self.protocol == "rest-json":
            return reply.headers["x-amzn-ErrorType"]
        return reply.json()["__type"]


CALLS = {
    "rest-xml": Call("rest-xml", "s3", "GET", "/any-bucket", {}),
    "json": Call("json", "sagemaker", "POST", "/", {"X-Amz-Target": "SageMaker.ListEndpoints",
                                                    "Content-Type": "application/x-amz-json-1.1"},
                 b"{}"),
    "rest-json": Call("rest-json", "sagemaker", "POST", "/endpoints/any/invocations",
                      {"Content-Type": "text/csv"}, b"1,2"),
    "query": Call("query", "sts", "POST", "/", {"Content-Type": FORM},
                  b"Action=GetCallerIdentity&Version=2011-06-15"),
    "internal": Call("json", "sagepipe", "GET", "/_sagepipe/serverless/restapis", {}),
}


def send(settings: Settings, call: Call, *, key: str | None = None, secret: str | None = None,
         signed: bool = True, host: str | None = None) -> httpx.Response:
    headers = dict(call.headers)
    if signed:
        credentials = settings.credentials
        if call.service == "s3":
            headers = signed_headers(settings, call.method, call.path, "s3", headers)
        headers = sign(call.method, settings.endpoint_url + call.path, call.body,
                       key or credentials.access_key_id,
                       secret or credentials.secret_access_key, settings.region,
                       headers, service=call.service)
    if host:
        headers["Host"] = host
    return httpx.request(call.method, settings.endpoint_url + call.path, content=call.body,
                         headers=headers, trust_env=False)


def refused_with(call: Call, reply: httpx.Response) -> tuple[str, int]:
    assert "Traceback" not in reply.text
    return call.error_code(reply), reply.status_code


@pytest.fixture
def signed_in_the_past(monkeypatch):
    """botocore signs as if it were `delta` ago (an old signature, an expired presigned URL)."""
    real = botocore.auth.get_current_datetime

    def shift(delta: dt.timedelta) -> None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - delta)
    return shift


# What each call answers once it is let through: the service's own answer.
PASSED = {"rest-xml": ("NoSuchBucket", 404), "json": (None, 200),
          "rest-json": ("ValidationError", 400), "query": (None, 200),
          "internal": (None, 200)}


def passed(call: Call, reply: httpx.Response) -> tuple[str | None, int]:
    return call.error_code(reply) if reply.status_code >= 300 else None, reply.status_code


def test_the_calls_pass_when_signed_by_the_home(local_aws):
    for name, call in CALLS.items():
        assert passed(call, send(local_aws, call)) == PASSED[name], name


@pytest.mark.parametrize("name, expected", [
    ("rest-xml", ("AccessDenied", 403)),
    ("json", ("MissingAuthenticationTokenException", 400)),
    ("rest-json", ("MissingAuthenticationTokenException", 403)),
    ("query", ("MissingAuthenticationToken", 403)),
    ("internal", ("MissingAuthenticationTokenException", 400)),
])
def test_an_unsigned_request_is_refused(local_aws, name, expected):
    call = CALLS[name]
    assert refused_with(call, send(local_aws, call, signed=False)) == expected


@pytest.mark.parametrize("name, wrong_secret, unknown_key", [
    ("rest-xml", ("SignatureDoesNotMatch", 403), ("InvalidAccessKeyId", 403)),
    ("json", ("InvalidSignatureException", 400), ("UnrecognizedClientException", 400)),
    ("rest-json", ("InvalidSignatureException", 403), ("UnrecognizedClientException", 403)),
    ("query", ("SignatureDoesNotMatch", 403), ("InvalidClientTokenId", 403)),
    ("internal", ("InvalidSignatureException", 400), ("UnrecognizedClientException", 400)),
])
def test_a_wrongly_signed_request_is_refused(local_aws, name, wrong_secret, unknown_key):
    call = CALLS[name]
    assert refused_with(call, send(local_aws, call, secret="not-the-secret")) == wrong_secret
    assert refused_with(call, send(local_aws, call, key="AKIAIOSFODNN7EXAMPLE")) == unknown_key
    # the once-accepted test/test credentials are just unknown now
    assert refused_with(call, send(local_aws, call, key="test", secret="test")) == unknown_key


@pytest.mark.parametrize("name, expected", [
    ("rest-xml", ("RequestTimeTooSkewed", 403)),
    ("json", ("InvalidSignatureException", 400)),
    ("rest-json", ("InvalidSignatureException", 403)),
    ("query", ("SignatureDoesNotMatch", 403)),
])
def test_a_signature_older_than_15_minutes_is_refused(local_aws, signed_in_the_past, name,
                                                      expected):
    call = CALLS[name]
    signed_in_the_past(dt.timedelta(minutes=16))
    reply = send(local_aws, call)
    assert refused_with(call, reply) == expected
    if name != "rest-xml":
        assert "Signature expired" in reply.text
    signed_in_the_past(dt.timedelta(minutes=14))  # within AWS's window: let through
    assert passed(call, send(local_aws, call)) == PASSED[name]


@pytest.mark.parametrize("name, expected", [
    ("rest-xml", ("AccessDenied", 403)),
    ("json", ("AccessDeniedException", 403)),
    ("rest-json", ("AccessDeniedException", 403)),
    ("query", ("AccessDenied", 403)),
    ("internal", ("AccessDeniedException", 403)),
])
def test_a_foreign_host_is_refused_before_anything_else(local_aws, name, expected):
    """DNS rebinding: a page on evil.example makes the browser send `Host: evil.example`."""
    call = CALLS[name]
    for host in ("evil.example", f"evil.example:{local_aws.port}", "127.0.0.1.nip.io",
                 "localhost.evil.example", ".localhost"):
        reply = send(local_aws, call, host=host)
        assert refused_with(call, reply) == expected, host
        assert "not a name of this machine's loopback interface" in reply.text
    assert send(local_aws, call, host="evil.example", signed=False).status_code == 403
    for host in (f"localhost:{local_aws.port}", f"[::1]:{local_aws.port}", "bucket.localhost"):
        reply = send(local_aws, call, host=host, signed=False)  # refused: for no signature
        assert "not a name of this machine's loopback interface" not in reply.text, host


@pytest.fixture
def bucket(s3) -> str:
    name = f"security-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def test_a_presigned_s3_url_works_until_it_expires(local_aws, s3, bucket, signed_in_the_past):
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"until it expires")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt"},
                                    ExpiresIn=600)
    assert httpx.get(url, trust_env=False).content == b"until it expires"
    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up.txt"},
                                    ExpiresIn=600)
    assert httpx.put(put, content=b"uploaded", trust_env=False).status_code == 200
    assert s3.get_object(Bucket=bucket, Key="up.txt")["Body"].read() == b"uploaded"
    tampered = url.replace("shared.txt", "up.txt")
    assert refused_with(CALLS["rest-xml"], httpx.get(tampered, trust_env=False)) == (
        "SignatureDoesNotMatch", 403)
    sigv2 = boto3.client("s3", endpoint_url=local_aws.endpoint_url, region_name="us-east-1",
                         aws_access_key_id=local_aws.credentials.access_key_id,
                         aws_secret_access_key=local_aws.credentials.secret_access_key,
                         config=Config(signature_version="s3"))
    reply = httpx.get(sigv2.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "shared.txt"}), trust_env=False)
    assert refused_with(CALLS["rest-xml"], reply) == ("AuthorizationHeaderMalformed", 400)
    assert "Please use AWS4-HMAC-SHA256" in reply.text

    signed_in_the_past(dt.timedelta(minutes=11))  # a URL for 10 minutes, made 11 minutes ago
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket,
                                                              "Key": "shared.txt"},
                                        ExpiresIn=600)
    reply = httpx.get(expired, trust_env=False)
    assert refused_with(CALLS["rest-xml"], reply) == ("AccessDenied", 403)
    error = ET.fromstring(reply.content)
    assert error.findtext("Message") == "Request has expired"
    assert error.findtext("X-Amz-Expires") == "600" and error.findtext("Expires")


def test_an_expired_presigned_query_request_is_refused(local_aws, signed_in_the_past):
    sts = client_for(local_aws, "sts")
    fresh = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    reply = httpx.get(fresh, trust_env=False)  # the signature holds
    assert passed(CALLS["query"], reply) == (None, 200)
    signed_in_the_past(dt.timedelta(minutes=2))
    expired = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    reply = httpx.get(expired, trust_env=False)
    assert refused_with(CALLS["query"], reply) == ("SignatureDoesNotMatch", 403)
    assert "Request has expired" in reply.text


def test_a_body_other_than_the_signed_one_is_refused(local_aws, s3, bucket):
    path = f"/{bucket}/swapped"
    headers = signed_headers(local_aws, "PUT", path, headers={
        "X-Amz-Content-SHA256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
    reply = httpx.put(local_aws.endpoint_url + path, content=b"not empty", headers=headers,
                      trust_env=False)
    assert refused_with(CALLS["rest-xml"], reply) == ("XAmzContentSHA256Mismatch", 400)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    call = CALLS["json"]
    headers = sign(call.method, local_aws.endpoint_url + "/", call.body,
                   local_aws.credentials.access_key_id, local_aws.credentials.secret_access_key,
                   local_aws.region, call.headers, service="sagemaker")
    reply = httpx.post(local_aws.endpoint_url + "/", content=b'{"MaxResults": 1}',
                       headers=headers, trust_env=False)
    assert refused_with(call, reply) == ("InvalidSignatureException", 400)


def test_the_health_probe_says_only_running(local_aws):
    assert httpx.get(local_aws.endpoint_url + "/_sagepipe/health",
                     trust_env=False).json() == {"status": "running"}
    unsigned = httpx.get(local_aws.endpoint_url + "/_sagepipe/instance", trust_env=False)
    assert unsigned.status_code == 400 and str(local_aws.home) not in unsigned.text
    signed = send(local_aws, Call("json", "sagepipe", "GET", "/_sagepipe/instance", {}))
    assert signed.json()["home"] == str(local_aws.home)


def test_the_aws_cli_and_boto3_work_with_what_sagepipe_env_exports(local_aws, bucket,
                                                                   monkeypatch):
    printed = subprocess.run([str(Path(sys.executable).with_name("sagepipe")), "--home",
                              str(local_aws.home), "--port", str(local_aws.port), "env"],
                             capture_output=True, text=True, check=True).stdout
    exports = dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines())
    assert exports["AWS_ACCESS_KEY_ID"] == local_aws.credentials.access_key_id
    assert exports["AWS_ACCESS_KEY_ID"].startswith("LSIA") and \
        len(exports["AWS_ACCESS_KEY_ID"]) == 20
    assert exports["AWS_ENDPOINT_URL"] == local_aws.endpoint_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | exports
    aws = str(Path(sys.executable).with_name("aws"))
    listed = subprocess.run([aws, "s3api", "list-buckets"], env=env, capture_output=True,
                            text=True, check=True)
    assert bucket in [b["Name"] for b in json.loads(listed.stdout)["Buckets"]]
    subprocess.run([aws, "sagemaker", "list-endpoints"], env=env, check=True,
                   capture_output=True)
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    # As in a new shell: boto3's default session keeps the credentials it first found (moto's,
    # if another test of this worker called boto3.client before).
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    assert bucket in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    assert "Endpoints" in boto3.client("sagemaker").list_endpoints()


@pytest.fixture
def private_home():
    """A local AWS whose home sits in a directory every user may enter, as a checkout in a
    home directory does: only the home's own mode keeps others out."""
    parent = Path(tempfile.mkdtemp(prefix="sagepipe-shared-"))
    parent.chmod(0o755)
    settings = Settings(home=parent / "home", port=free_port())
    start_background(settings)
    yield settings
    stop(settings)
    shutil.rmtree(parent, ignore_errors=True)


def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           *argv], capture_output=True, text=True, timeout=60)


@pytest.mark.local_aws
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to act as another user")
def test_another_user_can_neither_read_the_home_nor_call_unsigned(private_home):
    home = private_home.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    credentials_file = home / "credentials.json"
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    for argv in (["cat", str(credentials_file)], ["ls", str(home)],
                 ["cat", str(home / "state.db")]):
        denied = as_nobody(*argv)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, argv
    assert as_nobody("ls", str(home.parent)).returncode == 0  # the way there was open
    call = (f"import urllib.request, urllib.error\n"
            f"try:\n    urllib.request.urlopen('{private_home.endpoint_url}/any-bucket')\n"
            f"except urllib.error.HTTPError as e:\n    print(e.code, e.read().decode())\n")
    answer = as_nobody("/usr/bin/python3", "-c", call)
    assert answer.stdout.startswith("403") and "<Code>AccessDenied</Code>" in answer.stdout
