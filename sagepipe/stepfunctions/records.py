"""The local Step Functions' tables in the store: state machines, the revisions executions
ran, executions, their history events, tags.

Documents are the API's own shapes (DescribeStateMachine, DescribeStateMachineForExecution,
DescribeExecution, HistoryEvent) with timestamps as epoch seconds, so that reading is a
lookup. Every history event is one short transaction, written as it happens: a restart of
the local AWS finds each execution's history up to its last event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from sagepipe.store import Store

Doc = dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS sfn_state_machines (
    arn TEXT PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL, doc BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sfn_revisions (
    id TEXT PRIMARY KEY, machine TEXT NOT NULL, doc BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sfn_executions (
    arn TEXT PRIMARY KEY, machine TEXT NOT NULL, status TEXT NOT NULL, started REAL NOT NULL,
    revision TEXT NOT NULL, doc BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS sfn_executions_by_machine ON sfn_executions (machine, started);
CREATE INDEX IF NOT EXISTS sfn_executions_by_status ON sfn_executions (status);
CREATE TABLE IF NOT EXISTS sfn_events (
    execution TEXT NOT NULL, id INTEGER NOT NULL, event BLOB NOT NULL,
    PRIMARY KEY (execution, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sfn_tags (
    resource TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (resource, key));
"""


def _dump(value: Any) -> bytes:
    """JSON with timestamps as epoch seconds, as the protocol layer takes them."""
    return orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_DATETIME,
                        default=lambda v: v.timestamp() if isinstance(v, datetime) else str(v))


class Records:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.declare(SCHEMA)

    # -- state machines and their revisions --------------------------------------------------

    def add_machine(self, doc: Doc, revision: Doc, tags: dict[str, str]) -> None:
        with self.store.tx() as db:
            db.execute("INSERT INTO sfn_state_machines VALUES (?, ?, ?, ?)",
                       (doc["stateMachineArn"], doc["name"], doc["creationDate"], _dump(doc)))
            self._add_revision(db, revision)
            db.executemany("INSERT OR REPLACE INTO sfn_tags VALUES (?, ?, ?)",
                           [(doc["stateMachineArn"], k, v) for k, v in tags.items()])

    def machine(self, arn: str) -> Doc | None:
        row = self.store.one("SELECT doc FROM sfn_state_machines WHERE arn=?", arn)
        return None if row is None else orjson.loads(row["doc"])

    def machines(self) -> list[Doc]:
        return [orjson.loads(r["doc"]) for r in self.store.query(
            "SELECT doc FROM sfn_state_machines ORDER BY name")]

    def update_machine(self, arn: str, change: Callable[[Doc], None],
                       revision: Doc | None = None) -> Doc | None:
        """Read-modify-write a state machine (None if it is gone); with the revision it now
        runs, if that changed."""
        with self.store.tx() as db:
            row = db.execute("SELECT doc FROM sfn_state_machines WHERE arn=?", (arn,)).fetchone()
            if row is None:
                return None
            doc = orjson.loads(row["doc"])
            change(doc)
            db.execute("UPDATE sfn_state_machines SET doc=? WHERE arn=?", (_dump(doc), arn))
            if revision is not None:
                self._add_revision(db, revision)
        return doc

    def delete_machine(self, arn: str) -> None:
        """The state machine and its tags; its executions and their revisions stay (AWS keeps
        an execution's history after its state machine is deleted)."""
        with self.store.tx() as db:
            db.execute("DELETE FROM sfn_state_machines WHERE arn=?", (arn,))
            db.execute("DELETE FROM sfn_tags WHERE resource=?", (arn,))

    @staticmethod
    def _add_revision(db: Any, revision: Doc) -> None:
        db.execute("INSERT INTO sfn_revisions VALUES (?, ?, ?)",
                   (revision["revisionId"], revision["stateMachineArn"], _dump(revision)))

    def revision(self, revision_id: str) -> Doc:
        row = self.store.one("SELECT doc FROM sfn_revisions WHERE id=?", revision_id)
        assert row is not None, revision_id  # written with the machine, never deleted
        return orjson.loads(row["doc"])

    # -- executions --------------------------------------------------------------------------

    def add_execution(self, doc: Doc, revision_id: str) -> None:
        with self.store.tx() as db:
            db.execute("INSERT INTO sfn_executions VALUES (?, ?, ?, ?, ?, ?)",
                       (doc["executionArn"], doc["stateMachineArn"], doc["status"],
                        doc["startDate"], revision_id, _dump(doc)))

    def execution(self, arn: str) -> tuple[Doc, str] | None:
        """An execution's document and the revision it runs."""
        row = self.store.one("SELECT doc, revision FROM sfn_executions WHERE arn=?", arn)
        return None if row is None else (orjson.loads(row["doc"]), row["revision"])

    def executions(self, machine: str, status: str | None = None) -> list[Doc]:
        """A state machine's executions, newest first."""
        rows = self.store.query(
            "SELECT doc FROM sfn_executions WHERE machine=? AND (? IS NULL OR status=?) "
            "ORDER BY started DESC, rowid DESC", machine, status, status)
        return [orjson.loads(r["doc"]) for r in rows]

    def running(self) -> list[str]:
        return [r["arn"] for r in self.store.query(
            "SELECT arn FROM sfn_executions WHERE status='RUNNING'")]

    def finish_execution(self, arn: str, ended: Doc, event: Doc | None = None) -> None:
        """Close a RUNNING execution with `ended` (status, stopDate, output or error/cause),
        and its closing event when the engine could not write it."""
        with self.store.tx() as db:
            row = db.execute("SELECT doc FROM sfn_executions WHERE arn=? AND status='RUNNING'",
                             (arn,)).fetchone()
            if row is None:
                return
            doc = {**orjson.loads(row["doc"]), **ended}
            db.execute("UPDATE sfn_executions SET status=?, doc=? WHERE arn=?",
                       (doc["status"], _dump(doc), arn))
            if event is not None:
                self._add_event(db, arn, event)

    # -- history -----------------------------------------------------------------------------

    def add_event(self, execution: str, event: Doc) -> None:
        with self.store.tx() as db:
            self._add_event(db, execution, event)

    @staticmethod
    def _add_event(db: Any, execution: str, event: Doc) -> None:
        db.execute("INSERT INTO sfn_events VALUES (?, ?, ?)",
                   (execution, event["id"], _dump(event)))

    def events(self, execution: str, after: int, limit: int, reverse: bool) -> list[Doc]:
        """Up to `limit` events after the `after`-th one, in id order (or reversed)."""
        order = "DESC" if reverse else "ASC"
        rows = self.store.query(
            f"SELECT event FROM sfn_events WHERE execution=? ORDER BY id {order} "  # noqa: S608
            "LIMIT ? OFFSET ?", execution, limit, after)
        return [orjson.loads(r["event"]) for r in rows]

    def last_event_id(self, execution: str) -> int:
        row = self.store.one("SELECT MAX(id) AS last FROM sfn_events WHERE execution=?",
                             execution)
        return row["last"] or 0 if row else 0

    # -- tags --------------------------------------------------------------------------------

    def tags(self, resource: str) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self.store.query(
            "SELECT key, value FROM sfn_tags WHERE resource=? ORDER BY key", resource)}

    def set_tags(self, resource: str, tags: dict[str, str]) -> None:
        with self.store.tx() as db:
            db.executemany("INSERT OR REPLACE INTO sfn_tags VALUES (?, ?, ?)",
                           [(resource, k, v) for k, v in tags.items()])

    def remove_tags(self, resource: str, keys: list[str]) -> None:
        with self.store.tx() as db:
            db.executemany("DELETE FROM sfn_tags WHERE resource=? AND key=?",
                           [(resource, k) for k in keys])
