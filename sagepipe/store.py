"""The one SQLite store behind every local service.

Each service declares its own tables (`Store.declare`) and runs short transactions through
`Store.tx()`. Connections are per thread (job runners and request handlers run in threads);
WAL mode lets the CLI read while the gateway writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        # Outside a transaction: SQLite refuses to set the journal mode inside one.
        self._connection().execute("PRAGMA journal_mode=WAL")

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            # In WAL mode, NORMAL loses no committed transaction when the process crashes
            # (only on a power cut or OS crash), and skips an fsync per commit: Step
            # Functions writes each history event as it happens (FULL made that persistence
            # 20-250x the engine's own cost; bench/stepfunctions.py).
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def declare(self, ddl: str) -> None:
        """Create a service's tables if they are not there yet."""
        self._connection().executescript(ddl)

    def query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self._connection().execute(sql, args).fetchall()

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        return self._connection().execute(sql, args).fetchone()
