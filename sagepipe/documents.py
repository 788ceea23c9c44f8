"""Resources kept as JSON documents in one table of the store, one row per (kind, name).

A document is exactly what the service's Describe call returns, so Describe is a read and every
state change is one transactional update of that document. Each service has its own table and
its own errors for a name that is missing or taken.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import orjson

from sagepipe.errors import ServiceError
from sagepipe.store import Store

Document = dict[str, Any]
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Documents:
    def __init__(self, store: Store, table: str, *, not_found: type[ServiceError],
                 in_use: type[ServiceError]) -> None:
        if not TABLE_NAME.match(table):  # it is spliced into the SQL below
            raise ValueError(f"not a table name: {table!r}")
        self.store = store
        self.table = table
        self.not_found = not_found
        self.in_use = in_use
        store.declare(f"CREATE TABLE IF NOT EXISTS {table} (kind TEXT NOT NULL, name TEXT NOT "
                      "NULL, created REAL NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (kind, name));")
        self._select = f"SELECT doc FROM {table} WHERE kind=? AND name=?"  # noqa: S608

    def create(self, kind: str, name: str, doc: Document) -> Document:
        """Insert a new document; the service's in-use error if the name is taken."""
        with self.store.tx() as db:
            if db.execute(self._select, (kind, name)).fetchone():
                raise self.in_use(f"{kind} {name} already exists.")
            db.execute(f"INSERT INTO {self.table}(kind, name, created, doc) "  # noqa: S608
                       "VALUES (?, ?, ?, ?)", (kind, name, time.time(), orjson.dumps(doc)))
        return doc

    def get(self, kind: str, name: str) -> Document:
        doc = self.find(kind, name)
        if doc is None:
            raise self.not_found(f"{kind} {name} does not exist.")
        return doc

    def find(self, kind: str, name: str) -> Document | None:
        row = self.store.one(self._select, kind, name)
        return None if row is None else orjson.loads(row["doc"])

    def update(self, kind: str, name: str, change: Callable[[Document], None]) -> Document:
        """Read-modify-write one document in a single transaction."""
        with self.store.tx() as db:
            row = db.execute(self._select, (kind, name)).fetchone()
            if row is None:
                raise self.not_found(f"{kind} {name} does not exist.")
            doc = orjson.loads(row["doc"])
            change(doc)
            db.execute(f"UPDATE {self.table} SET doc=? WHERE kind=? AND name=?",  # noqa: S608
                       (orjson.dumps(doc), kind, name))
        return doc

    def put(self, kind: str, name: str, doc: Document) -> None:
        """Create the document, or replace the one of that name."""
        with self.store.tx() as db:
            db.execute(f"INSERT INTO {self.table}(kind, name, created, doc) "  # noqa: S608
                       "VALUES (?, ?, ?, ?) ON CONFLICT(kind, name) DO UPDATE SET doc=excluded.doc",
                       (kind, name, time.time(), orjson.dumps(doc)))

    def delete(self, kind: str, name: str) -> None:
        with self.store.tx() as db:
            gone = db.execute(f"DELETE FROM {self.table} WHERE kind=? AND name=?",  # noqa: S608
                              (kind, name)).rowcount
        if not gone:
            raise self.not_found(f"{kind} {name} does not exist.")

    def all(self, kind: str) -> list[Document]:
        rows = self.store.query(f"SELECT doc FROM {self.table} WHERE kind=? "  # noqa: S608
                                "ORDER BY created DESC", kind)
        return [orjson.loads(r["doc"]) for r in rows]
