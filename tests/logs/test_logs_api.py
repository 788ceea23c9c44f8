"""The local CloudWatch Logs through boto3: groups and streams, GetLogEvents' token semantics
as AWS documents them, FilterLogEvents' patterns and merge, DescribeLogStreams' ordering."""

from __future__ import annotations

import contextlib
import time

import pytest
from botocore.exceptions import ClientError
from testkit import unique


def error_code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return caught.value.response["Error"]["Code"]


@pytest.fixture
def group(logs) -> str:
    name = unique("/test/group")
    logs.create_log_group(logGroupName=name)
    return name


def put(logs, group: str, stream: str, messages: list[str], start: int | None = None) -> int:
    """Create `stream` if need be and put `messages`, 1 ms apart; returns the first time."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    first = start or int(time.time() * 1000) - 60_000
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": first + i, "message": m} for i, m in enumerate(messages)])
    return first


def messages(events: list[dict]) -> list[str]:
    return [e["message"] for e in events]


# -- groups and streams --------------------------------------------------------------------
def test_groups_are_created_listed_by_prefix_and_pattern_paginated_and_deleted(logs):
    base = unique("/test/listing")
    for name in ("a", "b", "c"):
        logs.create_log_group(logGroupName=f"{base}/{name}")
    with pytest.raises(ClientError) as caught:
        logs.create_log_group(logGroupName=f"{base}/a")
    assert error_code(caught) == "ResourceAlreadyExistsException"

    first = logs.describe_log_groups(logGroupNamePrefix=base, limit=2)
    assert [g["logGroupName"] for g in first["logGroups"]] == [f"{base}/a", f"{base}/b"]
    rest = logs.describe_log_groups(logGroupNamePrefix=base, limit=2,
                                    nextToken=first["nextToken"])
    assert [g["logGroupName"] for g in rest["logGroups"]] == [f"{base}/c"]
    assert "nextToken" not in rest
    pattern = logs.describe_log_groups(logGroupNamePattern=base.split("/")[-1].upper())
    assert len(pattern["logGroups"]) == 3  # a pattern matches case-insensitively, anywhere
    described = first["logGroups"][0]
    assert described["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{base}/a:*"

    logs.put_retention_policy(logGroupName=f"{base}/a", retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix=f"{base}/a")["logGroups"][0][
        "retentionInDays"] == 7
    with pytest.raises(ClientError) as caught:
        logs.put_retention_policy(logGroupName=f"{base}/a", retentionInDays=8)
    assert error_code(caught) == "InvalidParameterException"

    logs.delete_log_group(logGroupName=f"{base}/a")
    assert len(logs.describe_log_groups(logGroupNamePrefix=base)["logGroups"]) == 2
    with pytest.raises(ClientError) as caught:
        logs.describe_log_streams(logGroupName=f"{base}/a")
    assert error_code(caught) == "ResourceNotFoundException"


def test_streams_are_ordered_by_name_or_last_event_time(logs, group):
    now = int(time.time() * 1000) - 60_000
    put(logs, group, "b", ["later"], start=now + 20)
    put(logs, group, "a", ["latest"], start=now + 30)
    put(logs, group, "c", ["earliest"], start=now + 10)
    by_name = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c"]
    newest = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                       descending=True)["logStreams"]
    assert [s["logStreamName"] for s in newest] == ["a", "b", "c"]
    assert newest[0]["lastEventTimestamp"] == now + 30
    oldest = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime")
    assert [s["logStreamName"] for s in oldest["logStreams"]] == ["c", "b", "a"]

    page = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                     descending=True, limit=2)
    assert [s["logStreamName"] for s in page["logStreams"]] == ["a", "b"]
    page = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                     descending=True, limit=2, nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in page["logStreams"]] == ["c"] and "nextToken" not in page

    assert [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName=group, logStreamNamePrefix="b")["logStreams"]] == ["b"]
    with pytest.raises(ClientError) as caught:
        logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="b",
                                  orderBy="LastEventTime")
    assert error_code(caught) == "InvalidParameterException"


def test_put_log_events_keeps_aws_rules(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    with pytest.raises(ClientError) as caught:  # a batch must be in chronological order
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
            {"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
    assert error_code(caught) == "InvalidParameterException"
    answer = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now - 15 * 86_400_000, "message": "too old"},
        {"timestamp": now, "message": "kept\nwith a line break"},
        {"timestamp": now + 3 * 3_600_000, "message": "too new"}],
        sequenceToken="ignored, as AWS now ignores it")
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0,
                                               "tooNewLogEventStartIndex": 2}
    events = logs.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert messages(events) == ["kept\nwith a line break"]
    with pytest.raises(ClientError) as caught:
        logs.put_log_events(logGroupName=group, logStreamName="missing",
                            logEvents=[{"timestamp": now, "message": "x"}])
    assert error_code(caught) == "ResourceNotFoundException"


# -- GetLogEvents ---------------------------------------------------------------------------
def test_get_log_events_pages_forward_and_repeats_the_token_at_the_end(logs, group):
    put(logs, group, "s", [f"m{i}" for i in range(5)])
    page = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True,
                               limit=2)
    assert messages(page["events"]) == ["m0", "m1"]
    page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2,
                               nextToken=page["nextForwardToken"])
    assert messages(page["events"]) == ["m2", "m3"]
    page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2,
                               nextToken=page["nextForwardToken"])
    assert messages(page["events"]) == ["m4"]
    end = page["nextForwardToken"]
    at_end = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=end)
    assert at_end["events"] == [] and at_end["nextForwardToken"] == end  # the same token

    put(logs, group, "s", ["m5"])  # a poller that keeps the token gets what arrives
    later = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=end)
    assert messages(later["events"]) == ["m5"] and later["nextForwardToken"] != end


def test_get_log_events_reads_the_latest_first_and_pages_backward(logs, group):
    put(logs, group, "s", [f"m{i}" for i in range(5)])
    latest = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2)
    assert messages(latest["events"]) == ["m3", "m4"]  # the default: the end of the stream
    page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2,
                               nextToken=latest["nextBackwardToken"])
    assert messages(page["events"]) == ["m1", "m2"]
    page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2,
                               nextToken=page["nextBackwardToken"])
    assert messages(page["events"]) == ["m0"]
    start = page["nextBackwardToken"]
    at_start = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=start)
    assert at_start["events"] == [] and at_start["nextBackwardToken"] == start


def test_get_log_events_keeps_to_the_time_range(logs, group):
    first = put(logs, group, "s", [f"m{i}" for i in range(5)])
    window = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True,
                                 startTime=first + 1, endTime=first + 3)
    assert messages(window["events"]) == ["m1", "m2"]  # start inclusive, end exclusive
    with pytest.raises(ClientError) as caught:
        logs.get_log_events(logGroupName=group, logStreamName="s", nextToken="f/12345")
    assert error_code(caught) == "InvalidParameterException"


# -- FilterLogEvents ------------------------------------------------------------------------
def test_filter_patterns_match_terms_phrases_alternatives_and_exclusions(logs, group):
    put(logs, group, "s", ["ERROR disk full", "WARN disk slow", "ERROR timeout on disk",
                           "INFO all good", "Bad request: 400"])

    def matched(pattern: str) -> list[str]:
        return messages(logs.filter_log_events(logGroupName=group,
                                               filterPattern=pattern)["events"])
    assert matched("ERROR") == ["ERROR disk full", "ERROR timeout on disk"]
    assert matched("ERROR timeout") == ["ERROR timeout on disk"]
    assert matched('"Bad request"') == ["Bad request: 400"]
    assert matched("?WARN ?INFO") == ["WARN disk slow", "INFO all good"]
    assert matched("disk -timeout") == ["ERROR disk full", "WARN disk slow"]
    assert matched("error") == []  # terms are case-sensitive
    assert matched(r"%[0-9]{3}%") == ["Bad request: 400"]
    with pytest.raises(ClientError) as caught:
        matched('{ $.level = "error" }')
    assert error_code(caught) == "InvalidParameterException"
    assert "does not emulate" in caught.value.response["Error"]["Message"]


def test_filter_log_events_merges_streams_by_time_and_paginates(logs, group):
    now = int(time.time() * 1000) - 60_000
    logs.create_log_stream(logGroupName=group, logStreamName="x/1")
    logs.create_log_stream(logGroupName=group, logStreamName="x/2")
    logs.create_log_stream(logGroupName=group, logStreamName="y/1")
    logs.put_log_events(logGroupName=group, logStreamName="x/1", logEvents=[
        {"timestamp": now + 1, "message": "one"}, {"timestamp": now + 3, "message": "three"}])
    logs.put_log_events(logGroupName=group, logStreamName="x/2", logEvents=[
        {"timestamp": now + 2, "message": "two"}, {"timestamp": now + 4, "message": "four"}])
    logs.put_log_events(logGroupName=group, logStreamName="y/1", logEvents=[
        {"timestamp": now + 5, "message": "other"}])

    merged = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="x/",
                                    interleaved=True)
    assert messages(merged["events"]) == ["one", "two", "three", "four"]
    assert {e["logStreamName"] for e in merged["events"]} == {"x/1", "x/2"}
    assert "nextToken" not in merged
    assert len({e["eventId"] for e in merged["events"]}) == 4

    seen, kwargs = [], {"logGroupName": group, "limit": 2}
    while True:
        page = logs.filter_log_events(**kwargs)
        seen += messages(page["events"])
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert seen == ["one", "two", "three", "four", "other"]

    latest_first = logs.filter_log_events(logGroupName=group, startFromHead=False, limit=2)
    assert messages(latest_first["events"]) == ["other", "four"]
    older = logs.filter_log_events(logGroupName=group, limit=2,
                                   nextToken=latest_first["nextToken"])
    assert messages(older["events"]) == ["three", "two"]  # the token keeps the direction

    named = logs.filter_log_events(logGroupName=group, logStreamNames=["y/1"],
                                   startTime=now + 1, endTime=now + 10)
    assert messages(named["events"]) == ["other"]
    since = logs.filter_log_events(logGroupName=group, startTime=now + 4)
    assert messages(since["events"]) == ["four", "other"]
    with pytest.raises(ClientError) as caught:
        logs.filter_log_events(logGroupName=group, logStreamNames=["y/1"],
                               logStreamNamePrefix="x")
    assert error_code(caught) == "InvalidParameterException"


def test_tags_of_a_group(logs, group):
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    logs.tag_resource(resourceArn=arn, tags={"team": "ml", "stage": "qa"})
    logs.untag_resource(resourceArn=arn, tagKeys=["stage"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml"}
