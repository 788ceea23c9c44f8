"""What versions, checksums and notifications cost the local S3, through boto3 on a local AWS of
its own (a gateway process on a free port):

- small objects (1 KiB): PutObject, then GetObject, N of each, in a bucket that was never
  versioned, one with versioning Enabled (every put adds a version), and one with a
  notification configuration (SkipDestinationValidation) whose every put records an event that
  the gateway's delivery thread then hands to the local Lambda (a call through the gateway;
  until Lambda is emulated it answers NotImplemented and the event is dropped);
- one 64 MiB object: PutObject without a client checksum (the server computes a CRC64NVME on
  the way in) and with boto3's default CRC32, then GetObject with ChecksumMode=ENABLED.

Median of several runs, in milliseconds per call (small) or MB/s (large):

    .venv/bin/python bench/s3.py [--runs 5] [--count 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.config import Config

from sagepipe.clients import client
from sagepipe.config import Settings
from sagepipe.processes import free_port
from sagepipe.server import start_background, stop

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:bench"
MiB = 1024 * 1024


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def small_objects(s3, bucket: str, count: int) -> tuple[float, float]:
    """(ms per PutObject, ms per GetObject) of `count` 1 KiB objects."""
    body = os.urandom(1024)
    put = timed(lambda: [s3.put_object(Bucket=bucket, Key=f"k{i % 20}", Body=body)
                         for i in range(count)])
    get = timed(lambda: [s3.get_object(Bucket=bucket, Key=f"k{i % 20}")["Body"].read()
                         for i in range(count)])
    return put * 1000 / count, get * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), port=free_port())
        start_background(settings)
        try:
            s3 = client(settings, "s3")
            credentials = settings.credentials
            plain = boto3.client("s3", endpoint_url=settings.endpoint_url,
                                 region_name=settings.region,
                                 aws_access_key_id=credentials.access_key_id,
                                 aws_secret_access_key=credentials.secret_access_key,
                                 config=Config(request_checksum_calculation="when_required"))
            for bucket in ("plain", "versioned", "notified"):
                s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket="versioned",
                                     VersioningConfiguration={"Status": "Enabled"})
            s3.put_bucket_notification_configuration(
                Bucket="notified", SkipDestinationValidation=True,
                NotificationConfiguration={"LambdaFunctionConfigurations": [
                    {"LambdaFunctionArn": FUNCTION, "Events": ["s3:ObjectCreated:*"]}]})
            for bucket in ("plain", "versioned", "notified"):
                runs = [small_objects(s3, bucket, args.count) for _ in range(args.runs)]
                put, get = (statistics.median(r[i] for r in runs) for i in (0, 1))
                print(f"{bucket:>10}: PutObject {put:.2f} ms, GetObject {get:.2f} ms "
                      f"(1 KiB, median of {args.runs} x {args.count})")
            big = os.urandom(64 * MiB)
            for label, writer in (("server CRC64NVME", plain), ("client CRC32", s3)):
                put = statistics.median(timed(lambda w=writer: w.put_object(
                    Bucket="plain", Key="big", Body=big)) for _ in range(args.runs))
                get = statistics.median(timed(lambda: s3.get_object(
                    Bucket="plain", Key="big", ChecksumMode="ENABLED")["Body"].read())
                    for _ in range(args.runs))
                print(f"{label:>17}: PutObject {64 / put:.0f} MB/s, GetObject (checked) "
                      f"{64 / get:.0f} MB/s (64 MiB, median of {args.runs})")
        finally:
            stop(settings)


if __name__ == "__main__":
    main()
