"""Local pipeline wall time: commit to prod answering, with the stage breakdown, then a second
run after a model change while a client keeps calling prod (blue/green: failed requests counted).

Runs `sagepipe run --auto-approve` (the README's AWS sequence: connection, pipeline stack,
`git push` to the local remote, the execution it starts) in a temporary clone of this
repository's HEAD, on a fresh local AWS of its own; the times come from the local CodePipeline's
ListActionExecutions:

    .venv/bin/python bench/pipeline.py [--no-second-run]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from sagepipe.clients import client
from sagepipe.config import Settings
from sagepipe.processes import free_port
from sagepipe.server import stop

REPO = Path(__file__).resolve().parents[1]
PIPELINE = "sagepipe-pipeline"
PROD_ENDPOINT = "sagepipe-prod"
ROW = b"1,female,29"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=bench@sagepipe.dev", "-c",
                    "user.name=bench", *args], check=True, capture_output=True)


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


def run_pipeline(settings: Settings, clone: Path) -> tuple[float, dict[str, Any]]:
    """`sagepipe run --auto-approve` in the clone: its wall time and the execution it ran."""
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).parent / "sagepipe"), "--home",
                    str(settings.home), "--port", str(settings.port), "run", "--auto-approve"],
                   cwd=clone, check=False, capture_output=True)
    seconds = time.monotonic() - started
    api = client(settings, "codepipeline")
    latest = api.list_pipeline_executions(pipelineName=PIPELINE, maxResults=1)[
        "pipelineExecutionSummaries"][0]
    return seconds, latest


def report(console: Console, settings: Settings, title: str, seconds: float,
           execution: dict[str, Any]) -> None:
    api = client(settings, "codepipeline")
    details = sorted(api.list_action_executions(
        pipelineName=PIPELINE, filter={"pipelineExecutionId": execution["pipelineExecutionId"]})[
        "actionExecutionDetails"], key=lambda d: d["startTime"])
    start = execution["startTime"]
    prod = next(d for d in details if d["actionName"] == "DeployProd")
    total = (execution["lastUpdateTime"] - start).total_seconds()
    console.print(f"[bold]{title}[/bold]: {execution['status']}; `sagepipe run` {seconds:.1f}s, "
                  f"execution {total:.1f}s, prod answering "
                  f"{(prod['lastUpdateTime'] - start).total_seconds():.1f}s after the push")
    for detail in details:
        took = (detail["lastUpdateTime"] - detail["startTime"]).total_seconds()
        label = f"{detail['stageName']}.{detail['actionName']}"
        console.print(f"  {label:<28} {took:6.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-second-run", action="store_true")
    args = parser.parse_args()
    console = Console(soft_wrap=True)
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        settings = Settings(home=Path(tmp) / "home", port=free_port())
        try:
            seconds, first = run_pipeline(settings, clone)
            report(console, settings, "first run (fresh local AWS)", seconds, first)
            if args.no_second_run or first["status"] != "Succeeded":
                return
            params = clone / "model" / "hyperparameters.json"
            hyperparameters = json.loads(params.read_text())
            hyperparameters["n_estimators"] = str(int(hyperparameters["n_estimators"]) + 50)
            params.write_text(json.dumps(hyperparameters, indent=2) + "\n")
            git(clone, "commit", "-qam", "bench: more trees")
            caller = Caller(settings)
            caller.start()
            seconds, second = run_pipeline(settings, clone)
            time.sleep(1)
            caller.stop_event.set()
            caller.join()
            report(console, settings, "second run (model change, prod updated in place)",
                   seconds, second)
            console.print(f"  prod calls during the run: {caller.ok} ok, {caller.failed} failed;"
                          f" model versions seen in order: {caller.versions}")
        finally:
            stop(settings)


if __name__ == "__main__":
    main()
