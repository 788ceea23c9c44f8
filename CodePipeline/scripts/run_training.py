"""Run the training state machine on the commit's data and hyperparameters, through boto3 only.

Called by the training buildspec (`buildspec.yml`) in CodeBuild and, unchanged, by the local
pipeline: the only difference is `AWS_ENDPOINT_URL`, which boto3 reads from the environment.

The state machine is the stack the Build stage deploys from workflows/templates/titanic_train.yaml
(processing job `prepare`, then the training job). Its definition says where the processing job
reads the raw rows: the data goes there. The execution is named after its training job; each
state is printed as it is entered. A run that does not succeed fails this script with the
failed state's error and cause, and with the job's FailureReason when a job failed. The result
(model data URL, metrics, the held-out test split) is written as JSON for the deploy stages.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_data import export_titanic

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
RAW_INPUT = "raw"  # the processing input the state machine feeds the raw rows to
# The processing job reads every CSV under that input's prefix: one file, which each run replaces.
RAW_FILE = "titanic.csv"
PROCESSING = "arn:aws:states:::sagemaker:createProcessingJob.sync"


class TrainingFailed(RuntimeError):
    pass


def job_name(base: str, kind: str) -> str:
    """A unique, valid SageMaker job name (max 63 chars: `<base>-<kind>-YYYYmmdd-HHMMSS-mmm`)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{int(time.time() * 1000) % 1000:03d}"
    return f"{base[:63 - len(kind) - len(stamp) - 2]}-{kind}-{stamp}".replace("--", "-")


def read_hyperparameters(path: Path | None, pairs: list[str]) -> dict[str, str]:
    """The JSON file's values, then KEY=VALUE overrides; all strings, as SageMaker passes them."""
    result: dict[str, str] = {}
    if path is not None:
        try:
            loaded = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SystemExit(f"--hyperparameters {path}: {exc}") from None
        if not isinstance(loaded, dict):
            raise SystemExit(f"--hyperparameters {path} must hold a JSON object")
        result.update({str(k): str(v) for k, v in loaded.items()})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--hyperparameter takes KEY=VALUE, got {pair!r}")
        result[key] = value
    return result


def states(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every state of a definition, in Parallel branches and Map iterators too."""
    for state in definition.get("States", {}).values():
        yield state
        for branch in [*state.get("Branches", []), state.get("Iterator"),
                       state.get("ItemProcessor")]:
            if branch:
                yield from states(branch)


def raw_data_uri(definition: dict[str, Any]) -> str:
    """Where the state machine's processing job reads the raw rows (its input named `raw`)."""
    for state in states(definition):
        if state.get("Resource") != PROCESSING:
            continue
        for given in state.get("Parameters", {}).get("ProcessingInputs", []):
            uri = given.get("S3Input", {}).get("S3Uri")
            if given.get("InputName") == RAW_INPUT and isinstance(uri, str):
                return uri.rstrip("/")
    raise SystemExit(f"the state machine has no processing job with a fixed S3 input named "
                     f"{RAW_INPUT!r}: it is not the training workflow this script feeds")


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def follow(sfn: Any, execution_arn: str, max_delay: float = 15.0) -> tuple[dict[str, Any],
                                                                          list[dict[str, Any]]]:
    """Poll until the execution ends, printing each state as it is entered; back off to 15 s."""
    delay, seen = 1.0, 0
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        events = history(sfn, execution_arn)
        for event in events[seen:]:
            if entered := event.get("stateEnteredEventDetails"):
                print(f"  -> {entered['name']}", flush=True)
        seen = len(events)
        if described["status"] in TERMINAL:
            return described, events
        time.sleep(delay)
        delay = min(delay * 1.5, max_delay)


def failed_state(events: list[dict[str, Any]]) -> str:
    """The state whose task failed (a Catch may have moved on to a Fail state since), else the
    last state entered."""
    entered, failed = "?", None
    for event in events:
        if details := event.get("stateEnteredEventDetails"):
            entered = details["name"]
        elif "taskFailedEventDetails" in event:
            failed = entered
    return failed or entered


def failure(described: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """The failed state's error and cause; a failed job's own reason when there is one."""
    error, cause = described.get("error", ""), described.get("cause", "")
    lines = [f"execution {described['executionArn']} {described['status']} in state "
             f"{failed_state(events)!r}: {error or 'no error given'}"]
    try:
        job = json.loads(cause)
    except ValueError:
        job = None
    if isinstance(job, dict) and "FailureReason" in job:
        name = job.get("TrainingJobName") or job.get("ProcessingJobName") or "the job"
        status = job.get("TrainingJobStatus") or job.get("ProcessingJobStatus") or "Failed"
        lines.append(f"{name} ended {status}: {job['FailureReason']}")
    elif cause:
        lines.append(cause)
    return "\n".join(lines)


def processing_outputs(events: list[dict[str, Any]]) -> dict[str, str]:
    """The S3 URI of each output of the run's processing job, from its Task's result."""
    for event in events:
        details = event.get("taskSucceededEventDetails")
        if details and (details.get("resourceType"), details.get("resource")) == (
                "sagemaker", "createProcessingJob.sync"):
            job = json.loads(details["output"])
            return {o["OutputName"]: o["S3Output"]["S3Uri"]
                    for o in job["ProcessingOutputConfig"]["Outputs"]}
    raise TrainingFailed("the execution succeeded without a processing job's result in its "
                         "history")


def launch(args: argparse.Namespace) -> dict[str, Any]:
    s3, sfn = boto3.client("s3"), boto3.client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=args.state_machine_arn)
    raw = raw_data_uri(json.loads(machine["definition"]))
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or export_titanic(Path(tmp) / "titanic.csv")
        bucket, _, key = f"{raw}/{RAW_FILE}".removeprefix("s3://").partition("/")
        s3.upload_file(str(data), bucket, key)
    train_job = job_name(args.job_prefix, "train")
    execution_input = {
        "PreprocessingJobName": job_name(args.job_prefix, "prep"),
        "TrainingJobName": train_job,
        "HyperParameters": read_hyperparameters(args.hyperparameters, args.hyperparameter)}
    execution_arn = sfn.start_execution(stateMachineArn=args.state_machine_arn, name=train_job,
                                        input=json.dumps(execution_input))["executionArn"]
    print(f"execution {execution_arn}", flush=True)
    described, events = follow(sfn, execution_arn)
    if described["status"] != "SUCCEEDED":
        raise TrainingFailed(failure(described, events))
    job = json.loads(described["output"])
    splits = processing_outputs(events)
    return {
        "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        "TrainingJobName": job["TrainingJobName"],
        "Metrics": {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])},
        "TestDataUri": splits["test"],
        "DataValidationReportUri": splits["report"],
        "ExecutionArn": execution_arn,
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--state-machine-arn", required=True,
                   help="the training state machine (the Build stage's training stack)")
    p.add_argument("--data", type=Path, help="raw CSV (Survived,Pclass,Sex,Age); "
                   "default: the Titanic list shipped in bokeh-sampledata")
    p.add_argument("--hyperparameters", type=Path, help="JSON file of hyperparameters "
                   "(model/hyperparameters.json in the pipeline)")
    p.add_argument("--hyperparameter", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hyperparameter")
    p.add_argument("--job-prefix", default="sagepipe", help="prefix of the job names")
    p.add_argument("--output", type=Path, required=True, help="where to write the result JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = launch(args)
    except TrainingFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
