"""The local CloudWatch Logs, over the log files what the local AWS runs writes (streams.py).

Reading is what clients need: DescribeLogGroups, DescribeLogStreams, GetLogEvents with AWS's
token semantics (a forward token at the end of a stream comes back unchanged, so a poller
keeps passing it and gets new events as they arrive), FilterLogEvents across streams, merged by
time (what `aws logs tail --follow` polls). Writing is what users and CloudFormation need:
groups, streams, retention, tags, PutLogEvents (sequence tokens ignored, as AWS now does).

Tokens are positions in the stream files: `f/<offset>` and `b/<offset>` for GetLogEvents, the
last event returned for the listings and FilterLogEvents. Retention hides events older than the
group's retention from reads; it does not delete them.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from sagepipe.config import Settings, arn
from sagepipe.logs.exceptions import (
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from sagepipe.logs.patterns import compile_pattern
from sagepipe.logs.streams import Event, LogGroup, LogGroups, LogStream, now_ms

Params = dict[str, Any]
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653)
MAX_RESPONSE_BYTES = 1024 * 1024  # GetLogEvents and FilterLogEvents answer at most 1 MB
EVENT_OVERHEAD = 26  # bytes CloudWatch counts per event beside its message
MAX_BATCH_BYTES = 1024 * 1024
MAX_EVENT_BYTES = 1024 * 1024
DAY_MS = 24 * 3600 * 1000
FUTURE_MS = 2 * 3600 * 1000  # PutLogEvents rejects events more than 2 hours ahead
PAST_MS = 14 * DAY_MS  # and events older than 14 days
DEFAULT_EVENTS = 10_000
DEFAULT_DESCRIBE = 50
TOKEN = re.compile(r"^([fb])/(\d{1,56})$")
GROUP_ARN = re.compile(r"^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:(.+?)(?::\*)?$")


def _page_token(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _read_page_token(token: str | None) -> Any:
    if token is None:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        raise InvalidParameterException("The specified nextToken is invalid.") from None


def _size(message: str) -> int:
    return len(message.encode()) + EVENT_OVERHEAD


def event_id(stream: LogStream, event: Event) -> str:
    """A 56-digit id, as AWS's: time, stream and position, so it is stable across reads."""
    crc = zlib.crc32(f"{stream.group}\0{stream.name}".encode())
    return f"{event.timestamp:020d}{crc:010d}{event.offset:026d}"


class CloudWatchLogs:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.groups = LogGroups(settings.home)

    # -- groups ------------------------------------------------------------------------------
    def group_arn(self, name: str) -> str:
        return arn("logs", f"log-group:{name}", self.settings.region)

    def _group(self, params: Params) -> LogGroup:
        """The group a request names, by `logGroupName` or `logGroupIdentifier` (name or ARN)."""
        name = params.get("logGroupName")
        identifier = params.get("logGroupIdentifier")
        if name and identifier:
            raise InvalidParameterException("LogGroupName and LogGroupIdentifier are mutually "
                                            "exclusive; give one of them.")
        if identifier:
            found = GROUP_ARN.match(identifier)
            name = found.group(1) if found else identifier
        if not name:
            raise InvalidParameterException("Either LogGroupName or LogGroupIdentifier is "
                                            "required.")
        group = self.groups.get(name)
        if group is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        return group

    def create_log_group(self, params: Params) -> None:
        name = params["logGroupName"]
        if self.groups.create(name, tags=params.get("tags") or {}) is None:
            raise ResourceAlreadyExistsException("The specified log group already exists")

    def delete_log_group(self, params: Params) -> None:
        if not self.groups.delete(self._group(params).name):
            raise ResourceNotFoundException("The specified log group does not exist.")

    def put_retention_policy(self, params: Params) -> None:
        days = params["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                f"satisfy constraint: Member must satisfy enum value set: {list(RETENTION_DAYS)}")
        group = self._group(params)
        group.doc["retentionInDays"] = days
        group.save()

    def delete_retention_policy(self, params: Params) -> None:
        group = self._group(params)
        group.doc.pop("retentionInDays", None)
        group.save()

    def describe_log_groups(self, params: Params) -> Params:
        prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
        if prefix and pattern:
            raise InvalidParameterException("LogGroupNamePrefix and LogGroupNamePattern are "
                                            "mutually exclusive; give one of them.")
        groups = [g for g in self.groups.all() if g.name.startswith(prefix or "")
                  and (pattern or "").lower() in g.name.lower()]
        if names := params.get("logGroupIdentifiers"):
            groups = [g for g in groups if g.name in names or self.group_arn(g.name) in names]
        after = _read_page_token(params.get("nextToken"))
        if after is not None:
            groups = [g for g in groups if g.name > after]
        limit = params.get("limit", DEFAULT_DESCRIBE)
        page = groups[:limit]
        answer: Params = {"logGroups": [self._describe_group(g) for g in page]}
        if len(groups) > limit:
            answer["nextToken"] = _page_token(page[-1].name)
        return answer

    def _describe_group(self, group: LogGroup) -> Params:
        doc = {"logGroupName": group.name, "creationTime": group.doc["creationTime"],
               "metricFilterCount": 0, "arn": self.group_arn(group.name) + ":*",
               "logGroupArn": self.group_arn(group.name), "logGroupClass": "STANDARD",
               "storedBytes": sum(s.size() for s in group.streams())}
        if "retentionInDays" in group.doc:
            doc["retentionInDays"] = group.doc["retentionInDays"]
        return doc

    # -- tags --------------------------------------------------------------------------------
    def _tagged(self, resource_arn: str) -> LogGroup:
        found = GROUP_ARN.match(resource_arn)
        group = self.groups.get(found.group(1)) if found else None
        if group is None:
            raise ResourceNotFoundException(f"The specified resource does not exist: "
                                            f"{resource_arn} (the local CloudWatch Logs tags "
                                            "log groups).")
        return group

    def tag_resource(self, params: Params) -> None:
        group = self._tagged(params["resourceArn"])
        group.doc["tags"] = {**group.doc.get("tags", {}), **params["tags"]}
        group.save()

    def untag_resource(self, params: Params) -> None:
        group = self._tagged(params["resourceArn"])
        group.doc["tags"] = {k: v for k, v in group.doc.get("tags", {}).items()
                             if k not in params["tagKeys"]}
        group.save()

    def list_tags_for_resource(self, params: Params) -> Params:
        return {"tags": self._tagged(params["resourceArn"]).doc.get("tags", {})}

    # -- streams -----------------------------------------------------------------------------
    def _stream(self, group: LogGroup, name: str) -> LogStream:
        stream = group.stream(name)
        if stream is None:
            raise ResourceNotFoundException("The specified log stream does not exist.")
        return stream

    def create_log_stream(self, params: Params) -> None:
        if self._group(params).create_stream(params["logStreamName"]) is None:
            raise ResourceAlreadyExistsException("The specified log stream already exists")

    def delete_log_stream(self, params: Params) -> None:
        if not self._group(params).delete_stream(params["logStreamName"]):
            raise ResourceNotFoundException("The specified log stream does not exist.")

    def describe_log_streams(self, params: Params) -> Params:
        group = self._group(params)
        prefix = params.get("logStreamNamePrefix")
        by_time = params.get("orderBy", "LogStreamName") == "LastEventTime"
        if prefix and by_time:
            raise InvalidParameterException("Cannot order by LastEventTime with a "
                                            "logStreamNamePrefix.")
        described = [self._describe_stream(s) for s in group.streams()
                     if s.name.startswith(prefix or "")]

        def key(doc: Params) -> list[Any]:
            if by_time:  # a stream with no event yet sorts first, as in AWS
                return [doc.get("lastEventTimestamp", 0), doc["logStreamName"]]
            return [doc["logStreamName"]]
        descending = bool(params.get("descending"))
        described.sort(key=key, reverse=descending)
        after = _read_page_token(params.get("nextToken"))
        if after is not None:
            described = [d for d in described if (key(d) < after if descending
                                                  else key(d) > after)]
        limit = params.get("limit", DEFAULT_DESCRIBE)
        answer: Params = {"logStreams": described[:limit]}
        if len(described) > limit:
            answer["nextToken"] = _page_token(key(described[limit - 1]))
        return answer

    def _describe_stream(self, stream: LogStream) -> Params:
        doc = stream.description()
        doc["arn"] = self.group_arn(stream.group) + f":log-stream:{stream.name}"
        return doc

    # -- events ------------------------------------------------------------------------------
    def _window(self, group: LogGroup, params: Params) -> Callable[[Event], bool]:
        """Whether an event is in the request's time range, and not past the retention."""
        start = params.get("startTime")
        end = params.get("endTime")
        if "retentionInDays" in group.doc:
            horizon = now_ms() - group.doc["retentionInDays"] * DAY_MS
            start = max(start or 0, horizon)
        return lambda e: (start is None or e.timestamp >= start) and \
            (end is None or e.timestamp < end)

    def get_log_events(self, params: Params) -> Params:
        group = self._group(params)
        stream = self._stream(group, params["logStreamName"])
        in_window = self._window(group, params)
        limit = params.get("limit", DEFAULT_EVENTS)
        token = params.get("nextToken")
        if token:
            backward, offset = self._position(stream, token)
        else:
            backward = not params.get("startFromHead", False)
            offset = stream.size() if backward else stream.start()
        if backward:
            events = _read_backward(stream.events_backward(offset), in_window, limit)
            forward_at = events[-1].end if events else offset
        else:
            events, read_to = _read_forward(stream.events(offset), in_window, limit)
            forward_at = offset if read_to is None else read_to
        backward_at = events[0].offset if events else offset
        return {"events": [{"timestamp": e.timestamp, "message": e.message,
                            "ingestionTime": e.ingestion} for e in events],
                "nextForwardToken": f"f/{forward_at:056d}",
                "nextBackwardToken": f"b/{backward_at:056d}"}

    @staticmethod
    def _position(stream: LogStream, token: str) -> tuple[bool, int]:
        found = TOKEN.match(token)
        if found is None or not stream.is_line_start(int(found.group(2))):
            raise InvalidParameterException("The specified nextToken is invalid.")
        return found.group(1) == "b", int(found.group(2))

    def filter_log_events(self, params: Params) -> Params:
        """Matching events of the group's streams, merged by time. Each stream is read from
        where the previous page stopped in it (the token keeps a position per stream), so a
        page costs what it returns, however long the streams; a stream whose events were
        written out of time order comes back in the order it was written."""
        group = self._group(params)
        names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
        if names and prefix:
            raise InvalidParameterException("logStreamNames and logStreamNamePrefix are "
                                            "mutually exclusive; give one of them.")
        token = _read_page_token(params.get("nextToken"))
        if token is not None and not (isinstance(token, dict) and "positions" in token):
            raise InvalidParameterException("The specified nextToken is invalid.")
        descending = token["descending"] if token else params.get("startFromHead") is False
        positions: dict[str, int] = token["positions"] if token else {}
        streams = [s for s in group.streams() if (not names or s.name in names)
                   and s.name.startswith(prefix or "") and _may_hold(s, params)]
        matches = compile_pattern(params.get("filterPattern"))
        in_window = self._window(group, params)

        def candidates(stream: LogStream) -> Iterator[tuple[tuple[int, str], LogStream, Event]]:
            at = positions.get(stream.name)
            events = stream.events_backward(at) if descending else stream.events(at)
            for event in events:
                if in_window(event) and matches(event.message):
                    yield (event.timestamp, stream.name), stream, event
        merged = heapq.merge(*(candidates(s) for s in streams), key=lambda c: c[0],
                             reverse=descending)
        limit = params.get("limit", DEFAULT_EVENTS)
        events: list[Params] = []
        size = 0
        more = False
        for _key, stream, event in merged:
            size += _size(event.message)
            if len(events) >= limit or size > MAX_RESPONSE_BYTES:
                more = True
                break
            events.append({"logStreamName": stream.name, "timestamp": event.timestamp,
                           "message": event.message, "ingestionTime": event.ingestion,
                           "eventId": event_id(stream, event)})
            positions[stream.name] = event.offset if descending else event.end
        answer: Params = {"events": events, "searchedLogStreams": [
            {"logStreamName": s.name, "searchedCompletely": not more} for s in streams]}
        if more:
            answer["nextToken"] = _page_token({"descending": descending,
                                               "positions": positions})
        return answer

    def put_log_events(self, params: Params) -> Params:
        group = self._group(params)
        stream = self._stream(group, params["logStreamName"])
        batch = params["logEvents"]
        stamps = [e["timestamp"] for e in batch]
        if stamps != sorted(stamps):
            raise InvalidParameterException("Log events in a single PutLogEvents request must "
                                            "be in chronological order.")
        if sum(_size(e["message"]) for e in batch) > MAX_BATCH_BYTES:
            raise InvalidParameterException(f"The batch of log events is larger than "
                                            f"{MAX_BATCH_BYTES} bytes (each event counts its "
                                            f"UTF-8 message plus {EVENT_OVERHEAD}).")
        if any(len(e["message"].encode()) > MAX_EVENT_BYTES for e in batch):
            raise InvalidParameterException("Each log event can be no larger than 1 MB.")
        now = now_ms()
        oldest = now - PAST_MS
        if "retentionInDays" in group.doc:
            oldest = max(oldest, now - group.doc["retentionInDays"] * DAY_MS)
        too_old = [i for i, ts in enumerate(stamps) if ts < oldest]
        too_new = [i for i, ts in enumerate(stamps) if ts > now + FUTURE_MS]
        kept = [(ts, e["message"]) for ts, e in zip(stamps, batch, strict=True)
                if oldest <= ts <= now + FUTURE_MS]
        if kept and kept[-1][0] - kept[0][0] > DAY_MS:
            raise InvalidParameterException("The log events in a single PutLogEvents request "
                                            "cannot span more than 24 hours.")
        if kept:
            stream.append(kept, now)
        answer: Params = {}
        rejected: Params = {}
        if too_old:
            rejected["tooOldLogEventEndIndex"] = too_old[-1]
        if too_new:
            rejected["tooNewLogEventStartIndex"] = too_new[0]
        if rejected:
            answer["rejectedLogEventsInfo"] = rejected
        return answer


def _read_backward(events: Iterator[Event], in_window: Callable[[Event], bool],
                   limit: int) -> list[Event]:
    """The last events in the window before a position (at most `limit` and 1 MB), in order."""
    chosen: list[Event] = []
    size = 0
    for event in events:
        if in_window(event):
            size += _size(event.message)
            if len(chosen) >= limit or size > MAX_RESPONSE_BYTES:
                break
            chosen.append(event)
    return chosen[::-1]


def _may_hold(stream: LogStream, params: Params) -> bool:
    """Whether a stream can have events in the request's time range (what `aws logs tail
    --follow` asks every few seconds: only the streams written since)."""
    last = stream.last_events(1)
    # Events are written in the order they arrive, each at most FUTURE_MS ahead of its arrival:
    # none is later than the last arrival plus that.
    return bool(last) and (params.get("startTime") is None
                           or last[0].ingestion + FUTURE_MS >= params["startTime"])


def _read_forward(events: Iterator[Event], in_window: Callable[[Event], bool],
                  limit: int) -> tuple[list[Event], int | None]:
    """Events in the window from a position on, and where the next page starts: after the
    last event read (the end of the stream if it was reached)."""
    chosen: list[Event] = []
    size = 0
    position = None
    for event in events:
        if in_window(event):
            size += _size(event.message)
            if len(chosen) >= limit or size > MAX_RESPONSE_BYTES:
                return chosen, event.offset
            chosen.append(event)
        position = event.end
    return chosen, position
