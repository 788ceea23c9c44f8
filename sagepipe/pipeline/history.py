"""Pipeline executions and approvals in the local store: what `sagepipe status` shows."""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from sagepipe.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS pipeline_executions (
    id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS pipeline_approvals (
    token TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('Pending', 'Approved', 'Rejected')),
    comment TEXT NOT NULL DEFAULT '',
    requested REAL NOT NULL,
    decided REAL
);
"""


class History:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.declare(DDL)

    def start(self, pipeline: str, commit: str, trigger: str,
              stages: list[tuple[str, list[str]]]) -> dict[str, Any]:
        execution_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        doc = {"ExecutionId": execution_id, "Pipeline": pipeline, "Status": "InProgress",
               "Commit": commit, "Trigger": trigger, "Started": time.time(), "Ended": None,
               "Stages": [{"Name": s, "Status": "Pending", "Actions": [
                   {"Name": a, "Status": "Pending"} for a in actions]} for s, actions in stages]}
        with self.store.tx() as db:
            db.execute("INSERT INTO pipeline_executions(id, started, doc) VALUES (?, ?, ?)",
                       (execution_id, doc["Started"], orjson.dumps(doc)))
        return doc

    def save(self, doc: dict[str, Any]) -> None:
        with self.store.tx() as db:
            db.execute("UPDATE pipeline_executions SET doc=? WHERE id=?",
                       (orjson.dumps(doc), doc["ExecutionId"]))

    def latest(self, count: int = 1) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT doc FROM pipeline_executions ORDER BY started DESC "
                                "LIMIT ?", count)
        return [orjson.loads(r["doc"]) for r in rows]

    def get(self, execution_id: str) -> dict[str, Any] | None:
        row = self.store.one("SELECT doc FROM pipeline_executions WHERE id=?", execution_id)
        return None if row is None else orjson.loads(row["doc"])

    # -- approvals -----------------------------------------------------------------------
    def request_approval(self, execution_id: str, action: str) -> str:
        token = secrets.token_hex(8)
        with self.store.tx() as db:
            db.execute("INSERT INTO pipeline_approvals(token, execution_id, action, status, "
                       "requested) VALUES (?, ?, ?, 'Pending', ?)",
                       (token, execution_id, action, time.time()))
        return token

    def approval(self, token: str) -> dict[str, Any]:
        row = self.store.one("SELECT * FROM pipeline_approvals WHERE token=?", token)
        return dict(row) if row else {}

    def pending(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.store.query(
            "SELECT * FROM pipeline_approvals WHERE status='Pending' ORDER BY requested DESC")]

    def decide(self, token: str, approved: bool, comment: str) -> bool:
        """Record the reviewer's answer; False if that approval is no longer pending."""
        with self.store.tx() as db:
            changed = db.execute(
                "UPDATE pipeline_approvals SET status=?, comment=?, decided=? "
                "WHERE token=? AND status='Pending'",
                ("Approved" if approved else "Rejected", comment, time.time(), token)).rowcount
        return bool(changed)
