"""S3 bucket notifications: the configuration (PutBucketNotificationConfiguration, checked as S3
checks it), the event records of the writes that match it, and their delivery.

A matching write records its event in the store in the write's own transaction (an outbox),
so an event exists exactly when its write was committed. A delivery thread hands the recorded
events over afterwards, through a `Notifier` (the local Lambda's asynchronous invoke:
`LambdaNotifier`), so a write is never slowed or failed by its notification; events still
recorded when the local AWS stops are delivered after its next start (S3 delivers at least
once). Destinations of services the local AWS does not emulate (SQS, SNS, EventBridge) are
refused when the configuration is put, not dropped silently later.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote_plus

from botocore.exceptions import BotoCoreError, ClientError

from sagepipe.clients import client
from sagepipe.config import ACCOUNT_ID, Settings
from sagepipe.errors import NotEmulated
from sagepipe.protocols.service_models import service_model
from sagepipe.s3.exceptions import InvalidArgument

if TYPE_CHECKING:
    from sagepipe.s3.models import S3Backend, StoredObject

log = logging.getLogger(__name__)

DDL = """
CREATE TABLE IF NOT EXISTS s3_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- also the events' sequencer: later is greater
    destination TEXT NOT NULL,  -- the ARN the event goes to
    record TEXT NOT NULL  -- JSON: the event as the destination receives it ({"Records": [...]})
);
"""
EVENTS = frozenset(service_model("s3").shape_for("Event").enum)
NOT_EMULATED = {"TopicConfigurations": "SNS topics", "QueueConfigurations": "SQS queues",
                "EventBridgeConfiguration": "EventBridge"}
OVERLAP = ("Configurations overlap. Configurations on the same bucket cannot share a common "
           "event type.")
RETRY_SECONDS = 5.0
RETRIED_STATUSES = (429, 500, 502, 503, 504)  # busy, not wrong: a later try may pass
BATCH = 100
Configuration = dict[str, Any]  # NotificationConfiguration, in the S3 API's member names


@dataclass(frozen=True)
class Origin:
    """Who made the request a write belongs to, as its event record says."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex.upper()[:16])
    source_ip: str = "127.0.0.1"
    principal: str = f"AWS:{ACCOUNT_ID}"


def host_id(request_id: str) -> str:
    """S3's x-amz-id-2 for a request (an opaque id of the host that served it)."""
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest()).decode()


class DeliveryFailed(Exception):
    """An event did not go; `retry` if it may on a later try (the destination is busy)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class Notifier(Protocol):
    """Where the local S3's events go: the narrow interface a destination service implements."""

    def check(self, arn: str) -> str | None:
        """Why `arn` cannot receive events, or None if it can."""
        ...

    def deliver(self, arn: str, event: dict[str, Any]) -> None:
        """Hand one event over; DeliveryFailed if it did not go."""
        ...


class LambdaNotifier:
    """Events to the local Lambda as S3 sends them: an asynchronous invoke (InvocationType
    Event) through the local AWS, like any other client of it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()

    def _lambda(self) -> Any:
        if getattr(self._local, "client", None) is None:
            self._local.client = client(self.settings, "lambda")
        return self._local.client

    def check(self, arn: str) -> str | None:
        try:
            self._lambda().get_function(FunctionName=arn)
        except ClientError as err:
            message = err.response["Error"].get("Message", "")
            return f"Not authorized to invoke function [{arn}]: {message}"
        except BotoCoreError as err:
            return f"The local Lambda did not answer: {err}"
        return None

    def deliver(self, arn: str, event: dict[str, Any]) -> None:
        try:
            self._lambda().invoke(FunctionName=arn, InvocationType="Event",
                                  Payload=json.dumps(event).encode())
        except ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            raise DeliveryFailed(str(err), retry=status in RETRIED_STATUSES) from None
        except BotoCoreError as err:
            raise DeliveryFailed(str(err), retry=True) from None


# The configuration ---------------------------------------------------------------------

def check_configuration(config: Configuration,
                        check: Callable[[str], str | None] | None) -> Configuration:
    """The configuration as it will be kept (an Id for each entry), once S3's rules hold;
    `check` names why a destination cannot receive events (None: not validated)."""
    for member, what in NOT_EMULATED.items():
        if config.get(member):
            raise NotEmulated(f"sagepipe's local S3 sends events to Lambda functions only, "
                              f"not to {what} ({member}); use LambdaFunctionConfigurations.")
    entries = [{**entry, "Id": entry.get("Id") or secrets.token_urlsafe(24)}
               for entry in config.get("LambdaFunctionConfigurations", [])]
    for entry in entries:
        _check_entry(entry)
    for i, first in enumerate(entries):
        for second in entries[i + 1:]:
            if _overlap(first, second):
                raise InvalidArgument(OVERLAP, ArgumentName="Event",
                                      ArgumentValue=", ".join(first["Events"]))
    if check is not None:
        problems = [(arn, problem) for arn in dict.fromkeys(e["LambdaFunctionArn"]
                                                            for e in entries)
                    if (problem := check(arn)) is not None]
        if problems:
            raise InvalidArgument("Unable to validate the following destination configurations",
                                  **{f"Argument{kind}{i}": value
                                     for i, (arn, problem) in enumerate(problems, 1)
                                     for kind, value in (("Name", arn), ("Value", problem))})
    return {"LambdaFunctionConfigurations": entries} if entries else {}


def _check_entry(entry: Configuration) -> None:
    if not entry.get("LambdaFunctionArn"):
        raise InvalidArgument("A LambdaFunctionConfiguration needs its LambdaFunctionArn.",
                              ArgumentName="CloudFunction", ArgumentValue="")
    if not entry.get("Events"):
        raise InvalidArgument("A notification configuration needs at least one Event.",
                              ArgumentName="Event", ArgumentValue="")
    for event in entry["Events"]:
        if event not in EVENTS:
            raise InvalidArgument("The event is not supported for notifications",
                                  ArgumentName="Event", ArgumentValue=event)
    names = [rule.get("Name", "").lower() for rule in _rules(entry)]
    for name in names:
        if name not in ("prefix", "suffix"):
            raise InvalidArgument("filter rule name must be either prefix or suffix",
                                  ArgumentName="FilterRule.Name", ArgumentValue=name)
        if names.count(name) > 1:
            raise InvalidArgument(f"Cannot specify more than one {name} rule in a filter.",
                                  ArgumentName="FilterRule.Name", ArgumentValue=name)


def _rules(entry: Configuration) -> list[dict[str, str]]:
    return entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])


def _filter(entry: Configuration) -> tuple[str, str]:
    """(prefix, suffix) of an entry's key filter ("" where it has none)."""
    rules = {rule.get("Name", "").lower(): rule.get("Value", "") for rule in _rules(entry)}
    return rules.get("prefix", ""), rules.get("suffix", "")


def _covers(pattern: str, event: str) -> bool:
    """Whether an event pattern (`s3:ObjectCreated:*`) covers an event (`s3:ObjectCreated:Put`)."""
    return pattern == event or (pattern.endswith("*") and event.startswith(pattern[:-1]))


def _overlap(first: Configuration, second: Configuration) -> bool:
    """S3's rule: two entries may not both match one event type on one key."""
    shared = any(_covers(a, b) or _covers(b, a)
                 for a in first["Events"] for b in second["Events"])
    (prefix1, suffix1), (prefix2, suffix2) = _filter(first), _filter(second)
    return shared and (prefix1.startswith(prefix2) or prefix2.startswith(prefix1)) and \
        (suffix1.endswith(suffix2) or suffix2.endswith(suffix1))


# Events --------------------------------------------------------------------------------

def event_record(*, region: str, bucket: str, event: str, obj: StoredObject, origin: Origin,
                 configuration_id: str, sequencer: int) -> dict[str, Any]:
    """The event as S3 sends it (event structure version 2.1)."""
    stored: dict[str, Any] = {"key": quote_plus(obj.key, safe="/")}
    if not obj.marker and not event.startswith("ObjectRemoved"):
        stored.update(size=obj.size, eTag=obj.etag.strip('"'))
    if obj.version != "null":
        stored["versionId"] = obj.version
    if event.startswith(("ObjectCreated", "ObjectRemoved")):
        stored["sequencer"] = f"{sequencer:016X}"
    now = dt.datetime.now(dt.UTC)
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": event, "userIdentity": {"principalId": origin.principal},
        "requestParameters": {"sourceIPAddress": origin.source_ip},
        "responseElements": {"x-amz-request-id": origin.request_id,
                             "x-amz-id-2": host_id(origin.request_id)},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": ACCOUNT_ID},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": stored},
    }]}


class Notifications:
    """The notification part of the local S3 (`S3Backend.notifications`)."""

    def __init__(self, objects: S3Backend, notifier: Notifier | None, *, deliver: bool) -> None:
        """`deliver`: this process delivers the recorded events (the one owning the S3 home)."""
        self.objects = objects
        self.store = objects.store
        self.notifier = notifier
        self.store.declare(DDL)
        self._deliver = deliver and notifier is not None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.wake()  # what an earlier run recorded and did not deliver

    def put_configuration(self, bucket: str, config: Configuration,
                          skip_validation: bool = False) -> None:
        check = None if skip_validation or self.notifier is None else self.notifier.check
        self.objects.get_bucket(bucket)
        self.objects.put_setting(bucket, "notification", check_configuration(config, check))

    def get_configuration(self, bucket: str) -> Configuration:
        return self.objects.get_setting(bucket, "notification") or {}

    def record(self, db: sqlite3.Connection, bucket: str, event: str, obj: StoredObject,
               origin: Origin | None) -> None:
        """In the write's transaction: the event for each configuration it matches."""
        config = self.objects.setting(db, bucket, "notification")
        if not config:
            return
        entries = [entry for entry in config.get("LambdaFunctionConfigurations", [])
                   if any(_covers(pattern, f"s3:{event}") for pattern in entry["Events"])
                   and obj.key.startswith(_filter(entry)[0])
                   and obj.key.endswith(_filter(entry)[1])]
        if not entries:
            return
        region = db.execute("SELECT region FROM s3_buckets WHERE name = ?",
                            (bucket,)).fetchone()["region"]
        last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 's3_events'").fetchone()
        sequencer = (last["seq"] if last else 0) + 1
        for entry in entries:
            record = event_record(region=region, bucket=bucket, event=event, obj=obj,
                                  origin=origin or Origin(), configuration_id=entry["Id"],
                                  sequencer=sequencer)
            db.execute("INSERT INTO s3_events(destination, record) VALUES (?, ?)",
                       (entry["LambdaFunctionArn"], json.dumps(record)))

    def wake(self) -> None:
        """Deliver what is recorded, in the background (started on first use)."""
        if not self._deliver:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="s3-notifications",
                                            daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        retry = False
        while True:
            self._wake.wait(timeout=RETRY_SECONDS if retry else None)
            self._wake.clear()
            try:
                retry = self._drain()
            except Exception:  # a bug of ours: logged, and the thread lives on
                log.exception("S3 event delivery failed")
                retry = True

    def _drain(self) -> bool:
        """Deliver every recorded event, oldest first; True to try again later."""
        assert self.notifier is not None
        while rows := self.store.query("SELECT * FROM s3_events ORDER BY seq LIMIT ?", BATCH):
            for row in rows:
                try:
                    self.notifier.deliver(row["destination"], json.loads(row["record"]))
                except DeliveryFailed as failure:
                    if failure.retry:
                        log.warning("S3 event %s to %s: will retry: %s", row["seq"],
                                    row["destination"], failure)
                        return True
                    log.warning("S3 event %s to %s dropped: %s", row["seq"],
                                row["destination"], failure)
                with self.store.tx() as db:
                    db.execute("DELETE FROM s3_events WHERE seq = ?", (row["seq"],))
        return False
