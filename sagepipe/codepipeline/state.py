"""CodePipeline's tables of the store: pipelines (every version of each declaration) and
executions. An execution is one document holding its stages' states, its action executions
(what ListActionExecutions and GetPipelineState answer), the artifacts and variables its actions
produced, and the approvals' tokens; every change is one read-modify-write transaction, so the
execution's thread and the API calls that stop, retry or approve it never lose each other's
changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from sagepipe.codepipeline.exceptions import (
    PipelineExecutionNotFoundException,
    PipelineNameInUseException,
    PipelineNotFoundException,
)
from sagepipe.documents import Documents
from sagepipe.store import Store

Doc = dict[str, Any]
ACTIVE = ("InProgress", "Stopping")
DDL = """
CREATE TABLE IF NOT EXISTS codepipeline_executions (
    id TEXT PRIMARY KEY,
    pipeline TEXT NOT NULL,
    started REAL NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS codepipeline_executions_by_pipeline
    ON codepipeline_executions(pipeline, started);
"""


class ExecutionGone(Exception):
    """The execution was deleted (with its pipeline) while something still updated it."""


class Pipelines:
    """One document per pipeline: `versions` (declarations, oldest first), `metadata`, `tags`."""

    def __init__(self, store: Store) -> None:
        self.docs = Documents(store, "codepipeline", not_found=PipelineNotFoundException,
                              in_use=PipelineNameInUseException)

    def get(self, name: str) -> Doc:
        doc = self.docs.find("pipeline", name)
        if doc is None:
            raise PipelineNotFoundException(
                f"Account '000000000000' does not have a pipeline with name '{name}'")
        return doc

    def create(self, name: str, doc: Doc) -> None:
        try:
            self.docs.create("pipeline", name, doc)
        except PipelineNameInUseException:
            raise PipelineNameInUseException(
                f"A pipeline with the name '{name}' already exists in account "
                "'000000000000'") from None

    def update(self, name: str, change: Callable[[Doc], None]) -> Doc:
        self.get(name)
        return self.docs.update("pipeline", name, change)

    def delete(self, name: str) -> None:
        self.docs.delete("pipeline", name)

    def all(self) -> list[Doc]:
        return self.docs.all("pipeline")


class Executions:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.declare(DDL)

    def create(self, doc: Doc) -> None:
        with self.store.tx() as db:
            db.execute("INSERT INTO codepipeline_executions(id, pipeline, started, doc) "
                       "VALUES (?, ?, ?, ?)", (doc["pipelineExecutionId"], doc["pipelineName"],
                                               doc["startTime"], orjson.dumps(doc)))

    def find(self, execution_id: str) -> Doc | None:
        row = self.store.one("SELECT doc FROM codepipeline_executions WHERE id=?", execution_id)
        return None if row is None else orjson.loads(row["doc"])

    def get(self, pipeline: str, execution_id: str) -> Doc:
        doc = self.find(execution_id)
        if doc is None or doc["pipelineName"] != pipeline:
            raise PipelineExecutionNotFoundException(
                f"Pipeline execution with id '{execution_id}' does not exist in pipeline with "
                f"name '{pipeline}'")
        return doc

    def update(self, execution_id: str, change: Callable[[Doc], None]) -> Doc:
        with self.store.tx() as db:
            row = db.execute("SELECT doc FROM codepipeline_executions WHERE id=?",
                             (execution_id,)).fetchone()
            if row is None:
                raise ExecutionGone(execution_id)
            doc = orjson.loads(row["doc"])
            change(doc)
            db.execute("UPDATE codepipeline_executions SET doc=? WHERE id=?",
                       (orjson.dumps(doc), execution_id))
        return doc

    def of_pipeline(self, pipeline: str) -> list[Doc]:
        """Newest first."""
        return [orjson.loads(r["doc"]) for r in self.store.query(
            "SELECT doc FROM codepipeline_executions WHERE pipeline=? ORDER BY started DESC",
            pipeline)]

    def active(self) -> list[Doc]:
        return [d for d in (orjson.loads(r["doc"]) for r in self.store.query(
            "SELECT doc FROM codepipeline_executions")) if d["status"] in ACTIVE]

    def delete_pipeline(self, pipeline: str) -> None:
        with self.store.tx() as db:
            db.execute("DELETE FROM codepipeline_executions WHERE pipeline=?", (pipeline,))
