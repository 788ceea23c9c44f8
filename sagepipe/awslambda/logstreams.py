"""CloudWatch Logs log groups and streams as files under the home: what the local Lambda writes
its functions' logs through, one writer, in a format a CloudWatch Logs read side can serve
(GetLogEvents, FilterLogEvents) without parsing free text.

    <home>/logs/groups/<log group>/<log stream>.jsonl

Group and stream names are percent-encoded into one path component each (`/aws/lambda/f`,
`2024/01/31/[$LATEST]0f3c...`); each line is one log event, `{"timestamp": <epoch ms>,
"message": <text>}` (CloudWatch's InputLogEvent), appended in order and flushed at once, so
that a reader following the file sees events as they happen.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO
from urllib.parse import quote, unquote

GROUPS = "groups"  # under <home>/logs/
SUFFIX = ".jsonl"


def group_dir(logs_root: Path, group: str) -> Path:
    return logs_root / GROUPS / quote(group, safe="")


def now_ms() -> int:
    return int(time.time() * 1000)


class LogStream:
    """One log stream, open for appending."""

    def __init__(self, logs_root: Path, group: str, stream: str) -> None:
        self.group = group
        self.name = stream
        self.path = group_dir(logs_root, group) / f"{quote(stream, safe='')}{SUFFIX}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = None
        self._lock = threading.Lock()

    def put(self, message: str, timestamp: int | None = None) -> None:
        """Append one event (`timestamp` in epoch ms, now if not given)."""
        line = json.dumps({"timestamp": now_ms() if timestamp is None else timestamp,
                           "message": message}, ensure_ascii=False)
        with self._lock:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def stream_name(path: Path) -> str:
    return unquote(path.name.removesuffix(SUFFIX))


def streams_of(logs_root: Path, group: str) -> list[tuple[str, Path]]:
    """The streams of `group` (name, file), oldest first by last write."""
    folder = group_dir(logs_root, group)
    files = sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime) \
        if folder.is_dir() else []
    return [(stream_name(path), path) for path in files]


def as_text(line: str) -> str:
    """One line of a stream file as a reader wants it: `<UTC time> <message>`."""
    try:
        event = json.loads(line)
    except ValueError:
        return ""
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event["timestamp"] / 1000))
    return f"{when}.{event['timestamp'] % 1000:03d}Z {event['message']}\n"


def read_events(path: Path) -> Iterator[tuple[int, str]]:
    """The events of a stream file, (timestamp ms, message), skipping a line still being
    written."""
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            yield int(event["timestamp"]), str(event["message"])
