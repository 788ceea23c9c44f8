"""The overhead the local Step Functions engine adds per state, and its import cost.

- 50 Pass states in a row; a Map over 100 items (a Pass per item, up to 40 at once);
  each with the history sink a list (the engine alone) and a SQLite table in WAL mode written
  one transaction per event (what persisting every event as it happens costs), with
  synchronous=FULL (SQLite's default) and NORMAL;
- importing the engine and its integrations in a fresh interpreter (moto's embedded
  interpreter: ~2.5 s, see the Step Functions notes).
Median of several runs:

    .venv/bin/python bench/stepfunctions.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sagepipe.stepfunctions.asl import Execution, ExecutionInfo, parse_definition
from sagepipe.stepfunctions.asl.payload import to_json

PASSES = 50
ITEMS = 100


def chain(count: int) -> dict:
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(count - 1)}
    states[f"S{count - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "S0", "States": states}


MAP = {"StartAt": "M", "States": {"M": {
    "Type": "Map", "ItemsPath": "$.items", "End": True,
    "ItemSelector": {"value.$": "$$.Map.Item.Value"},
    "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}


class NoTasks:
    def run(self, request):
        raise AssertionError("no Task states in the bench")


def sqlite_sink(path: Path, synchronous: str):
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS events (execution TEXT, id INTEGER, body TEXT)")

    def sink(event: dict) -> None:
        conn.execute("INSERT INTO events VALUES (?, ?, ?)", ("bench", event["id"], to_json(
            {**event, "timestamp": event["timestamp"].timestamp()})))
    return sink


def one_run(definition: dict, execution_input: dict, sink) -> tuple[float, int]:
    machine = parse_definition(json.dumps(definition))
    count = [0]

    def counting(event: dict) -> None:
        count[0] += 1
        sink(event)
    info = ExecutionInfo("arn:aws:states:us-east-1:000000000000:execution:bench:run", "run",
                         "arn:aws:states:us-east-1:000000000000:stateMachine:bench", "bench",
                         "arn:aws:iam::000000000000:role/bench", datetime.now(UTC))
    started = time.perf_counter()
    outcome = Execution(machine, execution_input, info, NoTasks(), counting).run()
    elapsed = time.perf_counter() - started
    assert outcome.status == "SUCCEEDED", outcome
    return elapsed, count[0]


def measure(label: str, definition: dict, execution_input: dict, states: int, runs: int,
            sink) -> None:
    results = [one_run(definition, execution_input, sink) for _ in range(runs)]
    median = statistics.median(r[0] for r in results)
    print(f"{label:<38} {median * 1000:8.2f} ms  {median / states * 1e6:7.1f} us/state  "
          f"({results[0][1]} events)")


def import_seconds(modules: str) -> float:
    code = f"import time; t = time.perf_counter(); import {modules}; " \
        "print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    started = time.perf_counter()
    parse_definition(json.dumps(chain(PASSES)))
    print(f"{'parse + validate 50 Pass states':<38} "
          f"{(time.perf_counter() - started) * 1000:8.2f} ms")
    items = {"items": list(range(ITEMS))}
    with tempfile.TemporaryDirectory() as tmp:
        for sink_name, sink in (
                ("list", [].append),
                ("SQLite FULL", sqlite_sink(Path(tmp) / "full.db", "FULL")),
                ("SQLite NORMAL", sqlite_sink(Path(tmp) / "normal.db", "NORMAL"))):
            measure(f"{PASSES} Pass states, sink={sink_name}", chain(PASSES), {}, PASSES, runs,
                    sink)
            measure(f"Map over {ITEMS} items, sink={sink_name}", MAP, items, ITEMS + 1, runs,
                    sink)
    for label, modules in (("import asl (fresh interpreter)", "sagepipe.stepfunctions.asl"),
                           ("import asl + integrations (+boto3)",
                            "sagepipe.stepfunctions.asl, sagepipe.stepfunctions.integrations")):
        seconds = statistics.median(import_seconds(modules) for _ in range(3))
        print(f"{label:<38} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
