"""A stack whose endpoint does not exist: each event fails with the reason in the function's log,
is retried twice by Lambda (waits shortened on this local AWS), then reaches the failed-events
function, which keeps Lambda's record (the S3 event exactly as the function received it) in the
output bucket."""

from __future__ import annotations

import json

from inference_kit import Deployed, wait_for


def failed_records(deployed: Deployed) -> list[dict] | None:
    s3 = deployed.client("s3")
    listed = s3.list_objects_v2(Bucket=deployed.output_bucket, Prefix="failed-events/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=deployed.output_bucket, Key=key)["Body"].read())
            for key in keys] or None


def test_a_missing_endpoint_fails_the_event_into_the_failed_events_bucket(
        without_endpoint: Deployed):
    key = "incoming/day 1+2.csv"
    head = without_endpoint.upload(key, b"Pclass,Sex,Age\n1,female,29\n")
    (record,) = wait_for(lambda: failed_records(without_endpoint), "a failed-event record")

    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    error = record["responsePayload"]
    assert error["errorType"] == "EndpointUnavailable"
    assert error["errorMessage"] == ("endpoint bimiss-prod: ValidationError: Endpoint "
                                     "bimiss-prod of account 000000000000 not found.")

    # The event as the function received it: S3's record, version 2.1.
    (event,) = record["requestPayload"]["Records"]
    assert {k: event[k] for k in ("eventVersion", "eventSource", "awsRegion", "eventName")} == {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put"}
    assert event["s3"]["bucket"]["name"] == without_endpoint.input_bucket
    assert event["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{without_endpoint.input_bucket}"
    assert event["s3"]["object"]["key"] == "incoming/day+1%2B2.csv"  # URL-encoded
    assert event["s3"]["object"]["size"] == head["ContentLength"]
    assert event["s3"]["object"]["eTag"] == head["ETag"].strip('"')
    assert event["s3"]["object"]["versionId"] == head["VersionId"]
    assert len(event["s3"]["object"]["sequencer"]) >= 16

    errors = without_endpoint.log_lines(without_endpoint.function, "ERROR")
    said = [line for line in errors if "not scored, the endpoint cannot answer" in line]
    assert len(said) == 3 and f"s3://{without_endpoint.input_bucket}/{key}" in said[0]
    assert "Endpoint bimiss-prod of account 000000000000 not found" in said[0]
    kept = without_endpoint.log_lines(f"{without_endpoint.function}-failed", "failed")
    assert any(f"failed 3 time(s) (RetriesExhausted) for s3://{without_endpoint.input_bucket}"
               f"/{key}: EndpointUnavailable" in line for line in kept), kept
    assert without_endpoint.read(f"predictions/{key}") is None
