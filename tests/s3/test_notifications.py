"""Bucket notifications: the configuration API and S3's rules for it, and the event records a
write sends, after its commit and in the background.

The local Lambda is another service: here the local S3 runs in this process (its real HTTP
edge, driven by boto3) with a recording `Notifier` in the Lambda's place, the boundary the
Lambda delivery implements; `LambdaNotifier` itself is checked against botocore's Stubber, and
the whole path, the gateway's S3 to its Lambda, at the end."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import unquote_plus

import pytest
import uvicorn
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from s3_kit import error_of, free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from sagepipe.auth import Authenticator
from sagepipe.clients import client
from sagepipe.config import Settings
from sagepipe.edge import serve
from sagepipe.s3 import notifications
from sagepipe.s3.models import S3Backend
from sagepipe.s3.notifications import DeliveryFailed, LambdaNotifier, Notifications
from sagepipe.s3.responses import S3Service
from sagepipe.store import Store

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:score-csv"
OTHER = "arn:aws:lambda:us-east-1:000000000000:function:audit"


class Recorder:
    """The Lambda side of the boundary: which functions exist, and the events delivered."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []
        self.failures = 0  # deliveries to fail (busy) before accepting
        self.changed = threading.Condition()

    def check(self, arn: str) -> str | None:
        return None if arn in (FUNCTION, OTHER) else f"Function not found: {arn}"

    def deliver(self, arn: str, event: dict) -> None:
        with self.changed:
            if self.failures:
                self.failures -= 1
                raise DeliveryFailed("busy", retry=True)
            self.events.append((arn, event))
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 30) -> list[tuple[str, dict]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.events) >= count, timeout), \
                f"{len(self.events)} of {count} events delivered"
            return list(self.events)


@pytest.fixture(scope="module")
def local_s3(tmp_path_factory) -> Iterator[tuple[Settings, Recorder, S3Backend]]:
    """The local S3 alone, on its real edge in this process, with a recording notifier."""
    settings = Settings(home=tmp_path_factory.mktemp("s3-notify"), port=free_port())
    recorder = Recorder()
    backend = S3Backend(Store(settings.db_path), settings, recorder)
    service, auth = S3Service(backend), Authenticator(settings.credentials)

    async def route(request: Request) -> Response:
        return await serve(service, request, auth)

    app = Starlette()
    app.add_route("/{path:path}", route, methods=["GET", "PUT", "POST", "DELETE", "HEAD"])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield settings, recorder, backend
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def setup(local_s3):
    settings, recorder, backend = local_s3
    s3 = client(settings, "s3")
    bucket = f"notify-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    with recorder.changed:
        recorder.events.clear()
    return s3, bucket, recorder, backend


def lambda_config(events, arn=FUNCTION, prefix=None, suffix=None, config_id=None):
    config = {"LambdaFunctionArn": arn, "Events": events}
    rules = [{"Name": name, "Value": value} for name, value in (("prefix", prefix),
                                                                ("suffix", suffix)) if value]
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    if config_id:
        config["Id"] = config_id
    return config


def configure(s3, bucket, *configs, **kwargs):
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": list(configs)},
        **kwargs)


def test_configuration_round_trip(setup):
    s3, bucket, _, _ = setup
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(
        Bucket=bucket)
    configure(s3, bucket, lambda_config(["s3:ObjectCreated:*"], prefix="in/", suffix=".csv",
                                        config_id="score"),
              lambda_config(["s3:ObjectRemoved:*"], arn=OTHER))
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert got[0] == {"Id": "score", "LambdaFunctionArn": FUNCTION,
                      "Events": ["s3:ObjectCreated:*"],
                      "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                                         {"Name": "suffix", "Value": ".csv"}]}}}
    assert got[1]["Id"] and got[1]["LambdaFunctionArn"] == OTHER
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(
        Bucket=bucket)


@pytest.mark.parametrize("configs", [
    [lambda_config(["s3:ObjectCreated:*"]), lambda_config(["s3:ObjectCreated:Put"], arn=OTHER)],
    [lambda_config(["s3:ObjectCreated:Put"], prefix="a/"),
     lambda_config(["s3:ObjectCreated:Put"], prefix="a/b/", arn=OTHER)],
    [lambda_config(["s3:ObjectRemoved:*"], suffix=".csv"),
     lambda_config(["s3:ObjectRemoved:Delete"], suffix="x.csv", arn=OTHER)],
])
def test_overlapping_configurations_are_refused(setup, configs):
    s3, bucket, _, _ = setup
    with pytest.raises(ClientError) as caught:
        configure(s3, bucket, *configs)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidArgument"
    assert error["Message"] == ("Configurations overlap. Configurations on the same bucket "
                                "cannot share a common event type.")


def test_configurations_that_do_not_overlap(setup):
    s3, bucket, _, _ = setup
    configure(s3, bucket, lambda_config(["s3:ObjectCreated:*"], prefix="a/"),
              lambda_config(["s3:ObjectCreated:*"], prefix="b/", arn=OTHER),
              lambda_config(["s3:ObjectRemoved:*"], prefix="a/"),
              lambda_config(["s3:ObjectCreated:Put"], prefix="c/", suffix=".csv"),
              lambda_config(["s3:ObjectCreated:Put"], prefix="c/", suffix=".json"))


def test_unknown_function_and_other_bad_configurations(setup):
    s3, bucket, _, _ = setup
    missing = "arn:aws:lambda:us-east-1:000000000000:function:nope"
    with pytest.raises(ClientError) as caught:
        configure(s3, bucket, lambda_config(["s3:ObjectCreated:*"], arn=missing))
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidArgument", "Unable to validate the following destination configurations")
    assert error["ArgumentName1"] == missing
    configure(s3, bucket, lambda_config(["s3:ObjectCreated:*"], arn=missing),
              SkipDestinationValidation=True)
    for config in (lambda_config(["s3:ObjectExploded:*"]),
                   {**lambda_config(["s3:ObjectCreated:*"]), "Filter": {"Key": {"FilterRules": [
                       {"Name": "prefix", "Value": "a"}, {"Name": "prefix", "Value": "b"}]}}},
                   {**lambda_config(["s3:ObjectCreated:*"]), "Filter": {"Key": {"FilterRules": [
                       {"Name": "middle", "Value": "a"}]}}}):
        assert error_of(configure, s3, bucket, config) == ("InvalidArgument", 400)
    queue = {"QueueArn": "arn:aws:sqs:us-east-1:000000000000:q", "Events": ["s3:ObjectCreated:*"]}
    assert error_of(s3.put_bucket_notification_configuration, Bucket=bucket,
                    NotificationConfiguration={"QueueConfigurations": [queue]}) == (
        "NotImplemented", 501)


def test_events_of_writes_and_deletes(setup):
    s3, bucket, recorder, _ = setup
    configure(s3, bucket, lambda_config(["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                                        prefix="in/", suffix=".csv", config_id="score"))
    put = s3.put_object(Bucket=bucket, Key="in/a b=1.csv", Body=b"1,female,29\n")
    s3.put_object(Bucket=bucket, Key="in/skipped.json", Body=b"{}")  # suffix does not match
    s3.put_object(Bucket=bucket, Key="out/skipped.csv", Body=b"x")  # prefix does not match
    s3.copy_object(Bucket=bucket, Key="in/copy.csv",
                   CopySource={"Bucket": bucket, "Key": "in/a b=1.csv"})
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="in/mp.csv")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="in/mp.csv", UploadId=upload_id, PartNumber=1,
                          Body=b"part")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="in/mp.csv", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    s3.delete_object(Bucket=bucket, Key="in/copy.csv")
    events = [event["Records"][0] for _, event in recorder.wait_for(4)]
    assert [(r["eventName"], unquote_plus(r["s3"]["object"]["key"])) for r in events] == [
        ("ObjectCreated:Put", "in/a b=1.csv"), ("ObjectCreated:Copy", "in/copy.csv"),
        ("ObjectCreated:CompleteMultipartUpload", "in/mp.csv"),
        ("ObjectRemoved:Delete", "in/copy.csv")]
    assert {arn for arn, _ in recorder.events} == {FUNCTION}

    record = events[0]
    assert record["s3"]["object"]["key"] == "in/a+b%3D1.csv"  # URL-encoded as S3 does
    assert record["s3"]["object"] == {"key": "in/a+b%3D1.csv", "size": 12,
                                      "eTag": put["ETag"].strip('"'),
                                      "sequencer": record["s3"]["object"]["sequencer"]}
    assert (record["eventVersion"], record["eventSource"], record["awsRegion"]) == (
        "2.1", "aws:s3", "us-east-1")
    assert datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert record["responseElements"]["x-amz-request-id"] == \
        put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert record["responseElements"]["x-amz-id-2"] == \
        put["ResponseMetadata"]["HTTPHeaders"]["x-amz-id-2"]
    assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert record["userIdentity"]["principalId"].startswith("AWS:")
    assert record["s3"]["s3SchemaVersion"] == "1.0"
    assert record["s3"]["configurationId"] == "score"
    assert record["s3"]["bucket"] == {"name": bucket, "arn": f"arn:aws:s3:::{bucket}",
                                      "ownerIdentity": {"principalId": "000000000000"}}
    sequencers = [r["s3"]["object"]["sequencer"] for r in events]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 4
    assert "size" not in events[3]["s3"]["object"] and "versionId" not in events[3]["s3"][
        "object"]


def test_versioned_events_and_delete_markers(setup):
    s3, bucket, recorder, _ = setup
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    configure(s3, bucket, lambda_config(["s3:ObjectCreated:Put"]),
              lambda_config(["s3:ObjectRemoved:DeleteMarkerCreated"], arn=OTHER))
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)  # ObjectRemoved:Delete: no rule
    delivered = recorder.wait_for(2)
    [(put_arn, put_event), (marker_arn, marker_event)] = delivered
    assert (put_arn, put_event["Records"][0]["s3"]["object"]["versionId"]) == (FUNCTION, version)
    record = marker_event["Records"][0]
    assert (marker_arn, record["eventName"], record["s3"]["object"]["versionId"]) == (
        OTHER, "ObjectRemoved:DeleteMarkerCreated", marker)


def test_a_busy_destination_gets_the_event_later(setup, monkeypatch):
    s3, bucket, recorder, backend = setup
    monkeypatch.setattr(notifications, "RETRY_SECONDS", 0.2)
    configure(s3, bucket, lambda_config(["s3:ObjectCreated:*"]))
    with recorder.changed:
        recorder.failures = 2
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")  # the write does not wait for delivery
    [(_, event)] = recorder.wait_for(1)
    assert event["Records"][0]["s3"]["object"]["key"] == "k"
    deadline = time.monotonic() + 30  # delivered, then taken off the outbox
    while backend.store.query("SELECT * FROM s3_events") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend.store.query("SELECT * FROM s3_events") == []


def test_recorded_events_outlive_the_process_that_recorded_them(setup):
    """An event is recorded with its write; one still undelivered when the local AWS stops is
    delivered by the next start's notifications (made here on the same store)."""
    _, _, _, backend = setup
    with backend.store.tx() as db:  # as a write's transaction records it
        db.execute("INSERT INTO s3_events(destination, record) VALUES (?, ?)",
                   (FUNCTION, json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})))
    later = Recorder()
    Notifications(backend, later, deliver=True)
    assert later.wait_for(1)[0][1]["Records"][0]["eventName"] == "ObjectCreated:Put"


def test_lambda_notifier_invokes_asynchronously(local_aws):
    notifier = LambdaNotifier(local_aws)
    with Stubber(notifier._lambda()) as stub:
        stub.add_response("invoke", {"StatusCode": 202},
                          {"FunctionName": FUNCTION, "InvocationType": "Event",
                           "Payload": b'{"Records": []}'})
        notifier.deliver(FUNCTION, {"Records": []})
        stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
        with pytest.raises(DeliveryFailed) as busy:
            notifier.deliver(FUNCTION, {"Records": []})
        assert busy.value.retry
        stub.add_client_error("invoke", "ResourceNotFoundException", http_status_code=404)
        with pytest.raises(DeliveryFailed) as gone:
            notifier.deliver(FUNCTION, {"Records": []})
        assert not gone.value.retry
        stub.add_client_error("get_function", "ResourceNotFoundException",
                              "Function not found", http_status_code=404)
        assert re.search("Not authorized to invoke function", notifier.check(FUNCTION))


# The whole path: the gateway's S3 -> its Lambda. The function writes each event it gets to a
# file of the test's directory (a local function runs on this machine).
RECORDING_HANDLER = r'''
import json
import os
from pathlib import Path


def handler(event, context):
    record = event["Records"][0]
    name = record["eventName"].replace(":", "-") + "-" + record["s3"]["object"]["sequencer"]
    Path(os.environ["OUT"], name + ".json").write_text(json.dumps(event))
'''


def test_events_reach_the_local_lambda(local_aws, s3, bucket, tmp_path):
    lam = client(local_aws, "lambda")
    function = f"s3-events-{uuid.uuid4().hex[:8]}"
    lam.create_function(FunctionName=function, Runtime="python3.12", Handler="app.handler",
                        Role="arn:aws:iam::000000000000:role/s3-events", Timeout=10,
                        Code={"ZipFile": _zip({"app.py": RECORDING_HANDLER})},
                        Environment={"Variables": {"OUT": str(tmp_path)}})
    lam.get_waiter("function_active_v2").wait(FunctionName=function,
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    missing = arn.replace(function, "no-such-function")
    with pytest.raises(ClientError) as caught:
        configure(s3, bucket, lambda_config(["s3:ObjectCreated:*"], arn=missing))
    assert caught.value.response["Error"]["ArgumentName1"] == missing
    configure(s3, bucket, lambda_config(["s3:ObjectCreated:*"], arn=arn, suffix=".csv"))
    put = s3.put_object(Bucket=bucket, Key="in/rows.csv", Body=b"1,female,29\n")
    s3.put_object(Bucket=bucket, Key="in/skipped.txt", Body=b"x")
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    [written] = tmp_path.glob("*.json")
    record = json.loads(written.read_text())["Records"][0]
    assert (record["eventName"], record["s3"]["object"]["key"]) == ("ObjectCreated:Put",
                                                                   "in/rows.csv")
    assert record["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    assert record["s3"]["bucket"]["name"] == bucket
    lam.delete_function(FunctionName=function)


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()
