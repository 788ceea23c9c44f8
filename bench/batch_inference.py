"""Rows per second scored through S3 -> Lambda -> endpoint (CloudFormation/batch-inference.yaml)
against a direct batch transform job of the same file with the same model, on a local AWS of
its own:

- the model image trained by the pipeline's training workflow (its state machine: processing +
  training jobs) on the default Titanic data, served by CloudFormation/endpoint.yaml as
  `bench-prod` (one instance);
- the batch-inference stack packaged (`aws cloudformation package`) and deployed with its
  defaults (1000 rows a request, 4 requests in flight) unless told otherwise;
- files of N seeded random `Pclass,Sex,Age` rows with a header: the S3 path is timed from the
  PutObject to the predictions object being there (what a user waits for), the transform from
  CreateTransformJob to Completed (both polled every 20 ms); the function's own time (its
  log's summary line) is shown too. A file is scored `--runs` times (new keys), the median kept;
  the first S3 run also pays the function's cold start.

    .venv/bin/python bench/batch_inference.py [--rows 10000 100000] [--runs 3]
        [--rows-per-request 1000] [--concurrent-requests 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sagepipe.clients import client, local_env
from sagepipe.config import Settings
from sagepipe.images import ImageRegistry
from sagepipe.processes import free_port
from sagepipe.server import start_background, stop
from sagepipe.store import Store

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-model:bench"
ROLE = "arn:aws:iam::000000000000:role/sagepipe-sagemaker-role"
BUCKET = "bench-batch-inference"
PROJECT = "bench"
POLL = 0.02
FAST = {"Delay": 1, "MaxAttempts": 600}
SUMMARY = re.compile(r"(\d+) InvokeEndpoint requests in ([\d.]+) s")


def run(args: list[str], settings: Settings) -> None:
    done = subprocess.run(args, env={**os.environ, **local_env(settings)}, capture_output=True,
                          text=True, timeout=1800, check=False, cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} failed:\n{done.stdout}\n{done.stderr}")


def create_stack(settings: Settings, name: str, body: str, **parameters: str) -> dict[str, str]:
    cfn = client(settings, "cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=body,
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                 for k, v in parameters.items()])
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=FAST)
    described = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def set_up(settings: Settings, work: Path, args: argparse.Namespace) -> dict[str, str]:
    """Model trained, prod endpoint up, batch-inference stack deployed: its outputs."""
    ImageRegistry(Store(settings.db_path)).register(REPO / "model", IMAGE)
    client(settings, "s3").create_bucket(Bucket=BUCKET)
    print("training the model (the pipeline's training workflow: processing + training "
          "jobs) ...", flush=True)
    machine = create_stack(settings, f"{PROJECT}-training",
                           (REPO / "workflows/templates/titanic_train.yaml").read_text(),
                           Bucket=BUCKET, SageMakerRoleArn=ROLE,
                           TitanicImageUri=IMAGE)["StateMachineArn"]
    run([str(BIN / "python"), "CodePipeline/scripts/run_training.py", "--state-machine-arn",
         machine, "--hyperparameters", "model/hyperparameters.json", "--output",
         str(work / "training.json")], settings)
    training = json.loads((work / "training.json").read_text())
    endpoint = create_stack(settings, f"{PROJECT}-endpoint-prod",
                            (REPO / "CloudFormation/endpoint.yaml").read_text(),
                            ProjectName=PROJECT, StageName="prod", ImageUri=IMAGE,
                            ModelDataUrl=training["ModelDataUrl"], ExecutionRoleArn=ROLE,
                            DataCaptureS3Uri=f"s3://{BUCKET}/capture")["EndpointName"]
    packaged = work / "packaged.yaml"
    run([str(BIN / "aws"), "cloudformation", "package", "--template-file",
         "CloudFormation/batch-inference.yaml", "--s3-bucket", BUCKET, "--s3-prefix", "code",
         "--output-template-file", str(packaged)], settings)
    outputs = create_stack(settings, f"{PROJECT}-batch-inference", packaged.read_text(),
                           ProjectName=PROJECT, EndpointName=endpoint, SageMakerRoleArn=ROLE,
                           RowsPerRequest=str(args.rows_per_request),
                           ConcurrentRequests=str(args.concurrent_requests))
    return {**outputs, "EndpointName": endpoint}


def passengers(rows: int) -> bytes:
    draw = random.Random(rows)
    lines = ["Pclass,Sex,Age"] + [
        f"{draw.choice((1, 2, 3))},{draw.choice(('female', 'male'))},"
        f"{'' if draw.random() < 0.2 else round(draw.uniform(0.5, 80), 1)}"
        for _ in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def wait_until(check: Any) -> float:
    """Seconds until `check()` is true (polled every POLL s), from now."""
    started = time.perf_counter()
    while not check():
        time.sleep(POLL)
    return time.perf_counter() - started


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def through_lambda(settings: Settings, outputs: dict[str, str], body: bytes,
                   key: str) -> tuple[float, float, int]:
    """(wall seconds from PutObject to the predictions, the function's own seconds, requests)."""
    s3 = client(settings, "s3")
    started = time.perf_counter()
    s3.put_object(Bucket=outputs["InputBucketName"], Key=key, Body=body)
    wait_until(lambda: exists(s3, outputs["OutputBucketName"], f"predictions/{key}"))
    wall = time.perf_counter() - started
    logs = client(settings, "logs")
    messages = [e["message"] for e in logs.filter_log_events(
        logGroupName=f"/aws/lambda/{outputs['ScoringFunctionName']}",
        filterPattern=f'"{key}"')["events"]]
    found = next((SUMMARY.search(m) for m in messages if SUMMARY.search(m)), None)
    return wall, float(found[2]) if found else float("nan"), int(found[1]) if found else 0


def by_transform(settings: Settings, outputs: dict[str, str], body: bytes, key: str) -> float:
    """Seconds from CreateTransformJob to Completed, for the same file and model."""
    s3, sagemaker = client(settings, "s3"), client(settings, "sagemaker")
    s3.put_object(Bucket=BUCKET, Key=f"transform-in/{key}", Body=body)
    endpoint = sagemaker.describe_endpoint(EndpointName=outputs["EndpointName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    name = f"bench-{key.replace('/', '-').replace('.', '-')}"[:63]
    started = time.perf_counter()
    sagemaker.create_transform_job(
        TransformJobName=name, ModelName=config["ProductionVariants"][0]["ModelName"],
        BatchStrategy="MultiRecord", MaxPayloadInMB=6,
        TransformInput={"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/transform-in/{key}"}},
            "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/transform-out/", "Accept": "text/csv",
                         "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})

    def finished() -> bool:
        status = sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"]
        if status in ("Failed", "Stopped"):
            sys.exit(f"transform job {name} {status}")
        return status == "Completed"

    wait_until(finished)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows-per-request", type=int, default=1000)
    parser.add_argument("--concurrent-requests", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sagepipe-bench-inference-") as home:
        settings = Settings(home=Path(home), port=free_port())
        start_background(settings)
        try:
            outputs = set_up(settings, Path(home), args)
            print(f"rows per request {args.rows_per_request}, {args.concurrent_requests} in "
                  f"flight; endpoint and transform: one instance each\n")
            print("| rows | S3 -> Lambda -> endpoint (wall) | rows/s | in the function | "
                  "requests | batch transform (wall) | rows/s |")
            print("|---|---|---|---|---|---|---|")
            for rows in args.rows:
                body = passengers(rows)
                lam = [through_lambda(settings, outputs, body, f"incoming/{rows}-{run}.csv")
                       for run in range(args.runs)]
                transform = [by_transform(settings, outputs, body, f"{rows}-{run}.csv")
                             for run in range(args.runs)]
                wall = statistics.median(w for w, _, _ in lam)
                inside = statistics.median(s for _, s, _ in lam)
                batch = statistics.median(transform)
                print(f"| {rows:,} | {wall:.2f} s | {rows / wall:,.0f} | {inside:.2f} s | "
                      f"{lam[0][2]} | {batch:.2f} s | {rows / batch:,.0f} |", flush=True)
        finally:
            stop(settings)


if __name__ == "__main__":
    main()
