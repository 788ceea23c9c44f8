"""The scoring function's decisions that need no AWS, as plain Python: which records of an event
it works on, its settings, when an output makes an event's work unneeded, when a run hands a
file over for lack of time, and the transform job's name."""

from __future__ import annotations

import time

import pytest
from handoff import Source, job_name
from scoring import OutOfTime, Progress, Settings, newer, sources

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it


def record(key: str, event: str = "ObjectCreated:Put", **extra) -> dict:
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": event,
            "s3": {"bucket": {"name": "in"},
                   "object": {"key": key, "size": 10, "eTag": "abc", "sequencer": "0A",
                              **extra}}}


def test_records_give_their_objects_with_keys_decoded_as_s3_encodes_them():
    event = {"Records": [record("incoming/my+file%2B1.csv", versionId="v1"),
                         record("incoming/gone.csv", "ObjectRemoved:Delete"),
                         {"eventSource": "aws:sqs"}]}
    assert list(sources(event)) == [
        Source("in", "incoming/my file+1.csv", "abc", "v1", 10, "0A")]
    assert list(sources({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []


def test_settings_come_from_the_environment_with_their_types():
    settings = Settings.from_env({"ENDPOINT_NAME": "e", "OUTPUT_BUCKET": "b",
                                  "ROWS_PER_REQUEST": "100", "TIME_RESERVE_SECONDS": "2.5",
                                  "TRANSFORM_INSTANCE_TYPE": "ml.c5.large"})
    assert (settings.rows_per_request, settings.time_reserve_seconds) == (100, 2.5)
    assert settings.transform_instance_type == "ml.c5.large"
    assert settings.max_request_bytes == 5 * 1024 * 1024  # under InvokeEndpoint's 6 MB
    with pytest.raises(RuntimeError, match="lacks ENDPOINT_NAME"):
        Settings.from_env({"OUTPUT_BUCKET": "b"})
    with pytest.raises(RuntimeError, match=r"MAX_REQUEST_BYTES must be 1\.\.6291456"):
        Settings.from_env({"ENDPOINT_NAME": "e", "OUTPUT_BUCKET": "b",
                           "MAX_REQUEST_BYTES": str(7 * 1024 * 1024)})


def test_a_later_write_of_a_key_has_the_greater_sequencer_once_padded():
    assert newer("0055AED6DCD90281E6", "0055AED6DCD90281E5")
    assert newer("10", "0F") and newer("100", "FF")  # shorter ones are left-padded
    assert not newer("0A", "0A") and not newer("", "0A") and not newer("0A", "")


class Clock:
    """A Lambda context whose remaining time is set by the test."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_a_run_hands_over_when_the_rest_of_the_file_needs_more_time_than_is_left():
    progress = Progress(size=1_000_000, context=Clock(60_000), reserve_seconds=20)
    progress.check()  # nothing scored yet: no pace to judge by
    progress.started = time.monotonic() - 10  # 10 s for a tenth of the file: 90 s to go
    progress.bytes_read, progress.rows_read, progress.rows_done = 100_000, 1_000, 1_000
    with pytest.raises(OutOfTime, match=r"1000 rows scored in 10 s; the rest needs about "
                                         r"90 s and the run has 40 s left"):
        progress.check()
    progress.context = Clock(200_000)
    progress.check()  # 180 s left: enough
    progress.context = Clock(15_000)
    progress.rows_done = 0
    with pytest.raises(OutOfTime):  # inside the reserve, whatever the pace
        progress.check()


def test_a_transform_job_name_is_the_same_for_every_delivery_of_one_write():
    source = Source("in", "incoming/" + "x" * 300 + ".csv", "abc", "v1", 10, "0A")
    name = job_name("sagepipe-batch-inference", source)
    assert name == job_name("sagepipe-batch-inference", source) and len(name) == 63
    assert name.startswith("sagepipe-batch-inference-")
    assert name != job_name("sagepipe-batch-inference", Source(
        "in", source.key, "abd", "v2", 10, "0B"))
