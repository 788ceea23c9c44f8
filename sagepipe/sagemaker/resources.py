"""SageMaker resources as JSON documents in the store, one row per (kind, name).

A document is exactly what the Describe call returns, so Describe is a read and every state
change is one transactional update of that document.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from sagepipe.errors import in_use, not_found
from sagepipe.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS sagemaker_resources (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    doc BLOB NOT NULL,
    PRIMARY KEY (kind, name)
);
"""

Document = dict[str, Any]


class Resources:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.declare(DDL)

    def create(self, kind: str, name: str, doc: Document) -> Document:
        """Insert a new resource; ResourceInUse if the name is taken (SageMaker's behaviour)."""
        with self.store.tx() as db:
            if db.execute("SELECT 1 FROM sagemaker_resources WHERE kind=? AND name=?",
                          (kind, name)).fetchone():
                raise in_use(f"{kind} {name} already exists.")
            db.execute("INSERT INTO sagemaker_resources(kind, name, created, doc) "
                       "VALUES (?, ?, ?, ?)", (kind, name, time.time(), orjson.dumps(doc)))
        return doc

    def get(self, kind: str, name: str) -> Document:
        row = self.store.one("SELECT doc FROM sagemaker_resources WHERE kind=? AND name=?",
                             kind, name)
        if row is None:
            raise not_found(f"{kind} {name} does not exist.")
        return orjson.loads(row["doc"])

    def find(self, kind: str, name: str) -> Document | None:
        row = self.store.one("SELECT doc FROM sagemaker_resources WHERE kind=? AND name=?",
                             kind, name)
        return None if row is None else orjson.loads(row["doc"])

    def update(self, kind: str, name: str, change: Callable[[Document], None]) -> Document:
        """Read-modify-write one document in a single transaction."""
        with self.store.tx() as db:
            row = db.execute("SELECT doc FROM sagemaker_resources WHERE kind=? AND name=?",
                             (kind, name)).fetchone()
            if row is None:
                raise not_found(f"{kind} {name} does not exist.")
            doc = orjson.loads(row["doc"])
            change(doc)
            db.execute("UPDATE sagemaker_resources SET doc=? WHERE kind=? AND name=?",
                       (orjson.dumps(doc), kind, name))
        return doc

    def delete(self, kind: str, name: str) -> None:
        with self.store.tx() as db:
            gone = db.execute("DELETE FROM sagemaker_resources WHERE kind=? AND name=?",
                              (kind, name)).rowcount
        if not gone:
            raise not_found(f"{kind} {name} does not exist.")

    def all(self, kind: str) -> list[Document]:
        rows = self.store.query("SELECT doc FROM sagemaker_resources WHERE kind=? "
                                "ORDER BY created DESC", kind)
        return [orjson.loads(r["doc"]) for r in rows]
