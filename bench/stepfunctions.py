"""The overhead the local Step Functions adds per state, its persistence, its import cost, and
the served path end to end.

- 50 Pass states in a row; a Map over 100 items (a Pass per item, up to 40 at once);
  each with the history sink a list (the engine alone), a SQLite table in WAL mode written
  one transaction per event with synchronous=FULL (SQLite's default) and NORMAL, and the
  service's own sink (`Records.add_event` on the store, WAL + NORMAL): what persisting every
  event as it happens costs per state;
- the same two state machines served by a local AWS (a gateway process on a free port):
  StartExecution through boto3 until DescribeExecution says SUCCEEDED (polled every 5 ms),
  and the execution's own duration (stopDate - startDate);
- importing the engine and its integrations in a fresh interpreter (moto's embedded
  interpreter: ~2.5 s, see the Step Functions notes).
Median of several runs:

    .venv/bin/python bench/stepfunctions.py [--runs 7]
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sagepipe.clients import client
from sagepipe.config import Settings
from sagepipe.server import start_background, stop
from sagepipe.stepfunctions.asl import Execution, ExecutionInfo, parse_definition
from sagepipe.stepfunctions.asl.payload import to_json
from sagepipe.stepfunctions.records import Records
from sagepipe.store import Store

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


def records_sink(path: Path):
    """The sink the service gives its executions (without the log line); each run is an
    execution of its own."""
    records, runs = Records(Store(path)), itertools.count()
    execution = [""]

    def sink(event: dict) -> None:
        if event["id"] == 1:
            execution[0] = f"bench-{next(runs)}"
        records.add_event(execution[0], event)
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


def served_run(sfn, machine: str, execution_input: dict) -> tuple[float, float]:
    """(seconds from StartExecution until DescribeExecution says SUCCEEDED, the execution's
    own stopDate - startDate)."""
    started = time.perf_counter()
    arn = sfn.start_execution(stateMachineArn=machine,
                              input=json.dumps(execution_input))["executionArn"]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    assert described["status"] == "SUCCEEDED", described
    return elapsed, (described["stopDate"] - described["startDate"]).total_seconds()


def measure_served(home: Path, runs: int, items: dict) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        settings = Settings(home=home, port=sock.getsockname()[1])
    start_background(settings)
    try:
        sfn = client(settings, "stepfunctions")
        for label, definition, execution_input, states in (
                (f"served: {PASSES} Pass states", chain(PASSES), {}, PASSES),
                (f"served: Map over {ITEMS} items", MAP, items, ITEMS + 1)):
            machine = sfn.create_state_machine(
                name=label.split(": ")[1].replace(" ", "-"), definition=json.dumps(definition),
                roleArn="arn:aws:iam::000000000000:role/bench")["stateMachineArn"]
            served_run(sfn, machine, execution_input)  # warm: compiled, connections open
            results = [served_run(sfn, machine, execution_input) for _ in range(runs)]
            wall = statistics.median(r[0] for r in results)
            own = statistics.median(r[1] for r in results)
            print(f"{label:<38} {wall * 1000:8.2f} ms  {own / states * 1e6:7.1f} us/state  "
                  f"(start to SUCCEEDED seen by boto3; {own * 1000:.1f} ms stopDate - "
                  "startDate)")
    finally:
        stop(settings)


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
                ("SQLite NORMAL", sqlite_sink(Path(tmp) / "normal.db", "NORMAL")),
                ("service Records", records_sink(Path(tmp) / "state.db"))):
            measure(f"{PASSES} Pass states, sink={sink_name}", chain(PASSES), {}, PASSES, runs,
                    sink)
            measure(f"Map over {ITEMS} items, sink={sink_name}", MAP, items, ITEMS + 1, runs,
                    sink)
        measure_served(Path(tmp) / "home", runs, items)
    for label, modules in (("import asl (fresh interpreter)", "sagepipe.stepfunctions.asl"),
                           ("import asl + integrations (+boto3)",
                            "sagepipe.stepfunctions.asl, sagepipe.stepfunctions.integrations")):
        seconds = statistics.median(import_seconds(modules) for _ in range(3))
        print(f"{label:<38} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
