"""Lambda: the on-failure destination of the scoring function. Handler `failed_events.handler`.

Lambda invokes it with its destination record once an S3 event has failed every attempt
(`requestContext.condition` RetriesExhausted or EventAgeExceeded, `requestPayload` the S3 event,
`responsePayload` the last error). It keeps the record as
`<FAILED_PREFIX><yyyy/mm/dd>/<request id>.json` in OUTPUT_BUCKET, where an operator finds it
and redrives the event once the cause is fixed:

    aws s3 cp s3://BUCKET/failed-events/2026/12/01/<request id>.json - | jq .requestPayload \\
      > event.json
    aws lambda invoke --function-name <scoring function> --invocation-type Event \\
      --payload fileb://event.json /dev/null

and logs one line saying which objects failed and why (the FailedEvents alarm watches this
function's invocations).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

import boto3

log = logging.getLogger("batch_inference")
log.setLevel(logging.INFO)


@cache
def s3() -> Any:
    return boto3.client("s3")


def objects(record: Mapping[str, Any]) -> list[str]:
    """s3://bucket/key of each object of the failed S3 event."""
    return [f"s3://{r['s3']['bucket']['name']}/{unquote_plus(r['s3']['object']['key'])}"
            for r in (record.get("requestPayload") or {}).get("Records", [])
            if isinstance(r, dict) and "s3" in r]


def handler(record: Mapping[str, Any], context: Any) -> dict[str, str]:
    bucket = os.environ["OUTPUT_BUCKET"]
    prefix = os.environ.get("FAILED_PREFIX", "failed-events/")
    request = record.get("requestContext") or {}
    request_id = request.get("requestId") or context.aws_request_id
    key = f"{prefix}{datetime.now(UTC):%Y/%m/%d}/{request_id}.json"
    s3().put_object(Bucket=bucket, Key=key, Body=json.dumps(record, indent=1).encode(),
                    ContentType="application/json")
    error = record.get("responsePayload") or {}
    reason = (f"{error.get('errorType')}: {error.get('errorMessage')}"
              if isinstance(error, dict) else str(error))
    log.error("event %s failed %s time(s) (%s) for %s: %s; kept as s3://%s/%s", request_id,
              request.get("approximateInvokeCount"), request.get("condition"),
              ", ".join(objects(record)) or "no S3 object", reason, bucket, key)
    return {"kept": f"s3://{bucket}/{key}"}
