"""Asynchronous invocations that fail: retried as Lambda retries them (twice, unless the
function's event invoke config says otherwise), then sent to the on-failure destination with
Lambda's record. On a local AWS of its own, started with short retry delays (Lambda waits one
minute, then two)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from awslambda.lambda_kit import create, invoke
from botocore.exceptions import ClientError
from testkit import client_for, free_port, unique

from sagepipe.config import Settings
from sagepipe.server import start_background, stop

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own


def start_quick(settings: Settings) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAGEPIPE_LAMBDA_RETRY_DELAYS", "0.2,0.2")
        start_background(settings)


@pytest.fixture(scope="module")
def quick_retries(tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("retries-home"), port=free_port())
    start_quick(settings)
    yield settings
    stop(settings)


@pytest.fixture
def lam(quick_retries):
    return client_for(quick_retries, "lambda")


def wait_for(path: Path, bound: float = 60) -> dict:
    deadline = time.monotonic() + bound
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)
    time.sleep(0.2)  # written whole by now
    return json.loads(path.read_text())


def attempts(folder: Path) -> list[str]:
    return sorted(p.read_text() for p in folder.glob("attempt-*"))


def test_a_failing_event_is_tried_three_times_then_sent_to_its_destination(lam, tmp_path):
    worker, sink = create(lam), create(lam)
    sink_arn = lam.get_function(FunctionName=sink)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(FunctionName=worker, DestinationConfig={
        "OnFailure": {"Destination": sink_arn}})
    event = {"action": "record", "dir": str(tmp_path)}
    response = lam.invoke(FunctionName=worker, InvocationType="Event",
                          Payload=json.dumps(event).encode())
    request_id = response["ResponseMetadata"]["RequestId"]
    record = wait_for(tmp_path / "destination.json")
    assert attempts(tmp_path) == [request_id] * 3  # the same request, three times
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": request_id, "condition": "RetriesExhausted", "approximateInvokeCount": 3,
        "functionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{worker}:$LATEST"}
    assert record["requestPayload"] == event
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "attempt failed"


def test_maximum_retry_attempts_is_honoured(lam, tmp_path):
    worker, sink = create(lam), create(lam)
    sink_arn = lam.get_function(FunctionName=sink)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(FunctionName=worker, MaximumRetryAttempts=2)
    updated = lam.update_function_event_invoke_config(
        FunctionName=worker, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": sink_arn}})
    assert updated["MaximumRetryAttempts"] == 0
    assert lam.get_function_event_invoke_config(FunctionName=worker)["DestinationConfig"] == \
        {"OnFailure": {"Destination": sink_arn}}
    lam.invoke(FunctionName=worker, InvocationType="Event",
               Payload=json.dumps({"action": "record", "dir": str(tmp_path)}).encode())
    record = wait_for(tmp_path / "destination.json")
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert len(attempts(tmp_path)) == 1
    lam.delete_function_event_invoke_config(FunctionName=worker)
    with pytest.raises(ClientError) as caught:
        lam.get_function_event_invoke_config(FunctionName=worker)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "doesn't have an EventInvokeConfig" in caught.value.response["Error"]["Message"]


def test_functions_and_queued_events_survive_a_restart(quick_retries, lam):
    """An event whose function was still running when the local AWS stopped runs again when
    it is back (Lambda delivers asynchronous events at least once)."""
    s3 = client_for(quick_retries, "s3")
    name, bucket = create(lam), unique("restart")
    s3.create_bucket(Bucket=bucket)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(
        {"action": "put", "bucket": bucket, "key": "done", "delay": 3}).encode())
    time.sleep(0.5)  # the event is running, in its 3 s delay
    stop(quick_retries)  # kills the sandbox before the function has written anything
    start_quick(quick_retries)
    assert not s3.list_objects_v2(Bucket=bucket).get("KeyCount")
    lam = client_for(quick_retries, "lambda")
    assert invoke(lam, name)[1]["invocations"] in (1, 2)  # the function is still there
    deadline = time.monotonic() + 60
    while not s3.list_objects_v2(Bucket=bucket).get("KeyCount"):
        assert time.monotonic() < deadline, "the queued event was lost"
        time.sleep(0.2)
