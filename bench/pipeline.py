"""Local pipeline wall time: commit to prod answering, with the stage breakdown, then a second
run after a model change while a client keeps calling prod (blue/green: failed requests counted).

Runs in a temporary clone of this repository's HEAD, on a fresh local AWS of its own:

    .venv/bin/python bench/pipeline.py [--no-second-run]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from sagepipe.clients import client
from sagepipe.config import Settings
from sagepipe.pipeline.executor import executor_for
from sagepipe.server import stop

REPO = Path(__file__).resolve().parents[1]
PROD_ENDPOINT = "sagepipe-prod"
ROW = b"1,female,29"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=bench@sagepipe.dev", "-c",
                    "user.name=bench", *args], check=True, capture_output=True)


def breakdown(doc: dict) -> list[tuple[str, float]]:
    return [(f"{s['Name']}.{a['Name']}", a["Ended"] - a["Started"])
            for s in doc["Stages"] for a in s["Actions"] if a.get("Ended")]


def prod_answering_at(doc: dict) -> float:
    """Seconds from the start of the run to the end of the prod endpoint deploy."""
    prod = next(a for s in doc["Stages"] for a in s["Actions"] if a["Name"] == "DeployProd")
    return prod["Ended"] - doc["Started"]


class Caller(threading.Thread):
    """Calls the prod endpoint in a loop and counts answers by model version and failures."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.runtime = client(settings, "sagemaker-runtime")
        self.stop_event = threading.Event()
        self.ok = self.failed = 0
        self.versions: list[str] = []

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                body = self.runtime.invoke_endpoint(
                    EndpointName=PROD_ENDPOINT, Body=ROW, ContentType="text/csv",
                    Accept="application/json")["Body"].read()
                version = json.loads(body)["model_version"]
                if not self.versions or self.versions[-1] != version:
                    self.versions.append(version)
                self.ok += 1
            except (ClientError, BotoCoreError):
                self.failed += 1


def report(console: Console, title: str, doc: dict) -> None:
    console.print(f"[bold]{title}[/bold]: {doc['Status']} in {doc['Ended'] - doc['Started']:.1f}s "
                  f"(prod answering after {prod_answering_at(doc):.1f}s)")
    for name, seconds in breakdown(doc):
        console.print(f"  {name:<28} {seconds:6.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-second-run", action="store_true")
    args = parser.parse_args()
    console = Console(soft_wrap=True)
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        settings = Settings(home=Path(tmp) / "home", port=free_port())
        quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
        try:
            executor = executor_for(settings, clone, auto_approve=True)
            executor.console = quiet
            first = executor.run()
            report(console, "first run (fresh local AWS)", first)
            if args.no_second_run or first["Status"] != "Succeeded":
                return
            params = clone / "model" / "hyperparameters.json"
            hyperparameters = json.loads(params.read_text())
            hyperparameters["n_estimators"] = str(int(hyperparameters["n_estimators"]) + 50)
            params.write_text(json.dumps(hyperparameters, indent=2) + "\n")
            git(clone, "commit", "-qam", "bench: more trees")
            caller = Caller(settings)
            caller.start()
            executor = executor_for(settings, clone, auto_approve=True)
            executor.console = quiet
            second = executor.run()
            time.sleep(1)
            caller.stop_event.set()
            caller.join()
            report(console, "second run (model change, prod updated in place)", second)
            console.print(f"  prod calls during the run: {caller.ok} ok, {caller.failed} failed;"
                          f" model versions seen in order: {caller.versions}")
        finally:
            stop(settings)


if __name__ == "__main__":
    main()
