"""Logs written once, read as CloudWatch Logs: every process the local AWS runs (jobs, model
servers, functions, executions) writes its output through this module, into a log group and
stream named as AWS names them, and the local CloudWatch Logs (sagepipe/logs/models.py),
`sagepipe logs` and failure reasons read the same files.

A stream is one append-only file of events, one a line: `<timestamp ms> <ingestion ms> <message>`
(a message with a line break is written as a JSON string, so that a line stays an event). Its
first line is a header, `#{"logStreamName": ..., "creationTime": ...}`, so that the file says
which stream it is whatever its file name. A group is a directory with `group.json` (name,
creation time, retention, tags). Both live under `<home>/logs/groups/`, and need no other state:
a writer needs only the home, a reader only the files.

Writers (all in the gateway process):

    stream = job_stream(settings, "TrainingJobs", "my-job")  # my-job/algo-1-<epoch>
    proc = processes.spawn(argv, stream)  # the child's stdout+stderr, a line an event
    stream.write("a line of our own")
    stream.tail(10)  # the last lines' messages, for a FailureReason

Jobs, transform jobs and model servers give their process's output to their stream
(`processes.spawn`); Lambda writes a sandbox's output between its START/END/REPORT lines
(`lambda_stream`), Step Functions an execution's history events as AWS's JSON records
(`states_stream`). `streams_of` finds them all by name, for `sagepipe logs NAME`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from sagepipe.config import Settings

ROOT = "groups"  # under <home>/logs
GROUP_FILE = "group.json"
SUFFIX = ".log"
MAX_MESSAGE_BYTES = 256 * 1024 - 26  # CloudWatch's event size limit, less its per-event overhead
MAX_KEY = 200  # file-name length kept under the file system's 255
READ_CHUNK = 1 << 20
SAGEMAKER = "/aws/sagemaker"
LAMBDA = "/aws/lambda"
STATES = "/aws/vendedlogs/states"
_CREATING = threading.Lock()  # creating a group or stream: check-then-create in one step


def now_ms() -> int:
    return int(time.time() * 1000)


def root(home: Path) -> Path:
    return home / "logs" / ROOT


def _key(name: str) -> str:
    """A file name standing for a group or stream name: readable when it fits, else hashed
    (the real name is kept inside the file)."""
    encoded = quote(name, safe="-_.#$[]")
    if len(encoded) <= MAX_KEY and encoded not in (".", ".."):
        return encoded
    return f"{encoded[:MAX_KEY - 17]}~{hashlib.sha256(name.encode()).hexdigest()[:16]}"


# -- events ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """One log event, with where it lies in its stream's file (`offset` of its line, `end` of
    it): the local CloudWatch's tokens are these offsets."""

    timestamp: int
    ingestion: int
    message: str
    offset: int
    end: int


def encode(timestamp: int, ingestion: int, message: str) -> bytes:
    text = json.dumps(message) if "\n" in message or message.startswith('"') else message
    return f"{timestamp} {ingestion} {text}\n".encode()


def decode(line: bytes, offset: int) -> Event | None:
    """The event of one line (None for the header or a line that is not one)."""
    timestamp, _, rest = line.rstrip(b"\n").partition(b" ")
    ingestion, _, text = rest.partition(b" ")
    if not (timestamp.isdigit() and ingestion.isdigit()):
        return None
    message = text.decode(errors="replace")
    if message.startswith('"'):
        with contextlib.suppress(ValueError):
            message = json.loads(message)
    return Event(int(timestamp), int(ingestion), message, offset, offset + len(line))


def split_message(message: str) -> list[str]:
    """A message cut into pieces CloudWatch accepts (a very long line becomes several events)."""
    data = message.encode()
    if len(data) <= MAX_MESSAGE_BYTES:
        return [message]
    return [data[i:i + MAX_MESSAGE_BYTES].decode(errors="replace")
            for i in range(0, len(data), MAX_MESSAGE_BYTES)]


# -- streams ---------------------------------------------------------------------------------
class LogStream:
    """One stream's file. Appends are whole lines (so a reader never sees half an event);
    `follow` copies a child process's output into it, a line an event, as the CloudWatch agent
    does in SageMaker's containers."""

    def __init__(self, path: Path, group: str, name: str, created: int) -> None:
        self.path = path
        self.group = group
        self.name = name
        self.created = created
        self._pumps: list[tuple[Any, threading.Thread]] = []

    def __repr__(self) -> str:
        return f"LogStream({self.group!r}, {self.name!r})"

    def __str__(self) -> str:
        """How messages name it: group, stream and the file behind them."""
        return f"CloudWatch Logs {self.group} {self.name} ({self.path})"

    # -- writing -----------------------------------------------------------------------------
    def write(self, message: str, timestamp: int | None = None) -> None:
        """Append one event (several if the message is longer than CloudWatch allows)."""
        now = now_ms()
        self.append([(timestamp or now, piece) for piece in split_message(message)], now)

    def append(self, events: list[tuple[int, str]], ingestion: int) -> None:
        """Append `(timestamp ms, message)` events in one write."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            _write(fd, events, ingestion)
        finally:
            os.close(fd)

    def follow(self, proc: Any) -> None:
        """Copy `proc`'s output (a pipe at `proc.stdout`) into this stream until it closes,
        from a thread of its own; `settle` waits for it once the process has ended."""
        pump = threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True,
                                name=f"log pump {self.name}")
        pump.start()
        self._pumps.append((proc, pump))

    def _pump(self, pipe: IO[bytes]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            with pipe:
                while line := pipe.readline(MAX_MESSAGE_BYTES):
                    now = now_ms()
                    _write(fd, [(now, line.decode(errors="replace").removesuffix("\n"))], now)
        finally:
            os.close(fd)

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until the output of the processes that have ended is written (their pipe may
        still hold their last lines)."""
        for proc, pump in self._pumps:
            if proc.poll() is not None:
                pump.join(timeout)

    # -- reading -----------------------------------------------------------------------------
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def start(self) -> int:
        """The offset of the first event (just after the header)."""
        with open(self.path, "rb") as f:
            return len(f.readline())

    def events(self, offset: int | None = None, end: int | None = None) -> Iterator[Event]:
        """The events from `offset` (a line start; default: the first) up to `end` (default:
        the end of the file now)."""
        with open(self.path, "rb") as f:
            header = len(f.readline())
            position = max(header, offset or 0)
            f.seek(position)
            stop = end if end is not None else f.seek(0, os.SEEK_END)
            f.seek(position)
            while position < stop:
                line = f.readline()
                if not line.endswith(b"\n"):
                    break  # being written
                event = decode(line, position)
                position += len(line)
                if event is not None:
                    yield event

    def events_backward(self, end: int | None = None) -> Iterator[Event]:
        """The events before `end` (a line start; default: the end of the file now), last
        first, read from the end in growing windows (a long log is not read whole)."""
        floor = self.start()
        position = self.size() if end is None else end
        window = 64 * 1024
        while position > floor:
            begin = self._line_start(max(floor, position - window))
            if begin >= position:  # no whole line in the window: a very long one
                window *= 4
                continue
            yield from reversed(list(self.events(begin, position)))
            position = begin

    def last_events(self, count: int) -> list[Event]:
        """The last `count` events, in order."""
        return list(itertools.islice(self.events_backward(), count))[::-1]

    def _line_start(self, offset: int) -> int:
        """The start of the first whole line at or after `offset`."""
        if offset == 0:
            return 0
        with open(self.path, "rb") as f:
            f.seek(offset - 1)
            f.readline()
            return f.tell()

    def is_line_start(self, offset: int) -> bool:
        if offset < self.start() or offset > self.size():
            return False
        with open(self.path, "rb") as f:
            f.seek(offset - 1)
            return f.read(1) == b"\n"

    def tail(self, lines: int = 15) -> str:
        """The last lines' messages (what a FailureReason quotes), once the output of the
        processes that have ended is in."""
        self.settle()
        try:
            text = "\n".join(e.message for e in self.last_events(lines))
        except OSError:
            return "(no output)"
        return text or "(no output)"

    def description(self) -> dict[str, Any]:
        """DescribeLogStreams' fields for this stream."""
        doc: dict[str, Any] = {"logStreamName": self.name, "creationTime": self.created,
                               "storedBytes": 0}
        first = next(self.events(), None)
        if first is not None:
            last = self.last_events(1)[0]
            doc.update(firstEventTimestamp=first.timestamp, lastEventTimestamp=last.timestamp,
                       lastIngestionTime=last.ingestion)
        return doc


def _write(fd: int, events: list[tuple[int, str]], ingestion: int) -> None:
    """One write of whole lines to a file opened for appending: readers never see half."""
    data = b"".join(encode(ts, ingestion, message) for ts, message in events)
    while data:
        data = data[os.write(fd, data):]


# -- groups ----------------------------------------------------------------------------------
class LogGroup:
    """A group's directory: `group.json` and one file per stream."""

    def __init__(self, directory: Path, doc: dict[str, Any]) -> None:
        self.directory = directory
        self.doc = doc

    @property
    def name(self) -> str:
        return self.doc["logGroupName"]

    def save(self) -> None:
        temp = self.directory / f".{GROUP_FILE}.{secrets.token_hex(4)}"
        temp.write_text(json.dumps(self.doc))
        temp.replace(self.directory / GROUP_FILE)

    def stream(self, name: str) -> LogStream | None:
        path = self.directory / (_key(name) + SUFFIX)
        return _open_stream(path, self.name) if path.exists() else None

    def create_stream(self, name: str, exist_ok: bool = False) -> LogStream | None:
        """The new stream `name`; None if it exists already (unless `exist_ok`)."""
        path = self.directory / (_key(name) + SUFFIX)
        with _CREATING:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return _open_stream(path, self.name) if exist_ok else None
            created = now_ms()
            with os.fdopen(fd, "wb") as f:
                header = {"logStreamName": name, "creationTime": created}
                f.write(b"#" + json.dumps(header).encode() + b"\n")
        return LogStream(path, self.name, name, created)

    def streams(self) -> list[LogStream]:
        found = (_open_stream(p, self.name) for p in self.directory.glob(f"*{SUFFIX}"))
        return sorted((s for s in found if s is not None), key=lambda s: s.name)

    def delete_stream(self, name: str) -> bool:
        path = self.directory / (_key(name) + SUFFIX)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True


def _open_stream(path: Path, group: str) -> LogStream | None:
    try:
        with open(path, "rb") as f:
            header = json.loads(f.readline().removeprefix(b"#"))
    except (OSError, ValueError):
        return None
    return LogStream(path, group, header["logStreamName"], header["creationTime"])


class LogGroups:
    """The log groups of one home."""

    def __init__(self, home: Path) -> None:
        self.root = root(home)

    def get(self, name: str) -> LogGroup | None:
        directory = self.root / _key(name)
        try:
            doc = json.loads((directory / GROUP_FILE).read_text())
        except (OSError, ValueError):
            return None
        return LogGroup(directory, doc)

    def create(self, name: str, exist_ok: bool = False, **fields: Any) -> LogGroup | None:
        """The new group `name`; None if it exists already (unless `exist_ok`)."""
        directory = self.root / _key(name)
        with _CREATING:
            existing = self.get(name)
            if existing is not None:
                return existing if exist_ok else None
            directory.mkdir(parents=True, exist_ok=True)
            group = LogGroup(directory, {"logGroupName": name, "creationTime": now_ms(),
                                         "tags": {}, **fields})
            group.save()
            return group

    def all(self) -> list[LogGroup]:
        if not self.root.is_dir():
            return []
        found = (self._read(d) for d in self.root.iterdir() if d.is_dir())
        return sorted((g for g in found if g is not None), key=lambda g: g.name)

    @staticmethod
    def _read(directory: Path) -> LogGroup | None:
        try:
            return LogGroup(directory, json.loads((directory / GROUP_FILE).read_text()))
        except (OSError, ValueError):
            return None

    def delete(self, name: str) -> bool:
        group = self.get(name)
        if group is None:
            return False
        shutil.rmtree(group.directory, ignore_errors=True)
        return True

    def stream(self, group: str, name: str) -> LogStream:
        """The stream `name` of `group`, both made if need be (what a writer asks for)."""
        log_group = self.create(group, exist_ok=True)
        assert log_group is not None
        stream = log_group.create_stream(name, exist_ok=True)
        assert stream is not None
        return stream


# -- the names AWS gives the streams of what runs --------------------------------------------
def open_stream(settings: Settings, group: str, name: str) -> LogStream:
    """The stream `name` of `group` in the home of `settings`, made if need be."""
    return LogGroups(settings.home).stream(group, name)


def job_stream(settings: Settings, jobs_group: str, job: str) -> LogStream:
    """A training or processing job's stream: `/aws/sagemaker/<TrainingJobs>`,
    `<job>/algo-1-<epoch seconds>`, as SageMaker names the one host's stream."""
    return open_stream(settings, f"{SAGEMAKER}/{jobs_group}", f"{job}/algo-1-{int(time.time())}")


def transform_stream(settings: Settings, job: str, instance_id: str) -> LogStream:
    """A batch transform job's stream: `/aws/sagemaker/TransformJobs`, `<job>/<instance-id>`."""
    return open_stream(settings, f"{SAGEMAKER}/TransformJobs", f"{job}/{instance_id}")


def endpoint_stream(settings: Settings, endpoint: str, variant: str,
                    instance_id: str) -> LogStream:
    """A serving instance's stream: `/aws/sagemaker/Endpoints/<endpoint>`,
    `<variant>/<instance-id>`."""
    return open_stream(settings, f"{SAGEMAKER}/Endpoints/{endpoint}", f"{variant}/{instance_id}")


def lambda_stream(settings: Settings, function: str, version: str = "$LATEST",
                  group: str | None = None) -> LogStream:
    """A Lambda execution environment's stream: `/aws/lambda/<function>` (or the group the
    function's LoggingConfig names), `YYYY/MM/DD/[<version>]<32 hex>`."""
    day = time.strftime("%Y/%m/%d", time.gmtime())
    return open_stream(settings, group or f"{LAMBDA}/{function}",
                       f"{day}/[{version}]{secrets.token_hex(16)}")


def states_group(state_machine: str) -> str:
    """The log group Step Functions' console creates for a state machine's execution logs."""
    return f"{STATES}/{state_machine}"


def states_stream(settings: Settings, state_machine: str) -> LogStream:
    """A Step Functions execution's stream: `/aws/vendedlogs/states/<machine>`,
    `states/<machine>/<YYYY-MM-DD-HH-MM>/<8 hex>`, as vended logs name them (one stream per
    execution here; its events carry the execution's ARN, as AWS's do)."""
    minute = time.strftime("%Y-%m-%d-%H-%M", time.gmtime())
    return open_stream(settings, states_group(state_machine),
                       f"states/{state_machine}/{minute}/{secrets.token_hex(4)}")


def instance_id(seed: str) -> str:
    """An EC2-style instance id (`i-` and 17 hex digits), stable for `seed` (a deployment and
    variant), as the stream names of endpoints and transform jobs carry one."""
    return "i-" + hashlib.sha256(seed.encode()).hexdigest()[:17]


def streams_of(home: Path, name: str) -> list[LogStream]:
    """The streams of whatever runs under `name` (a job, an endpoint, a function, a state
    machine, an execution), oldest first: what `sagepipe logs NAME` prints."""
    groups = LogGroups(home)
    found = [s for kind in ("TrainingJobs", "ProcessingJobs", "TransformJobs")
             if (group := groups.get(f"{SAGEMAKER}/{kind}")) is not None
             for s in group.streams() if s.name.startswith(f"{name}/")]
    for owned in (f"{SAGEMAKER}/Endpoints/{name}", f"{LAMBDA}/{name}", states_group(name)):
        if (group := groups.get(owned)) is not None:
            found += group.streams()
    found += [s for group in groups.all() if group.name.startswith(f"{STATES}/")
              and group.name != states_group(name)
              for s in group.streams() if _execution_name(s) == name]
    return sorted(found, key=lambda s: s.created)


def _execution_name(stream: LogStream) -> str | None:
    """The name of the execution a Step Functions stream logs, from its first event's
    `execution_arn` (`...:execution:<machine>:<name>`, `...:express:<machine>:<name>:<id>`)."""
    first = next(stream.events(), None)
    try:
        parts = json.loads(first.message)["execution_arn"].split(":") if first else []
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return parts[7] if len(parts) > 7 else None
