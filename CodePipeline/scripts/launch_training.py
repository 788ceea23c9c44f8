"""Prepare the data and train the model with SageMaker, through boto3 only.

Called by the training buildspec (`buildspec.yml`) in CodeBuild and, unchanged, by the local
pipeline: the only difference is `AWS_ENDPOINT_URL`, which boto3 reads from the environment.

Steps: upload the raw CSV, run the image's `prepare` entry point as a processing job, train on
its splits, wait, and write the model data URL (and metrics) as JSON for the deploy stage.
A failed job fails this script with the job's FailureReason.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_data import export_titanic

DONE = {"Completed", "Failed", "Stopped"}
METRICS = ("train:accuracy", "validation:accuracy", "validation:f1", "validation:auc")
SPLITS = ("train", "validation", "test", "preprocessor", "report")


class JobFailed(RuntimeError):
    pass


def job_name(base: str, kind: str) -> str:
    """A unique, valid SageMaker job name (max 63 chars: `<base>-<kind>-YYYYmmdd-HHMMSS-mmm`)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{int(time.time() * 1000) % 1000:03d}"
    return f"{base[:63 - len(kind) - len(stamp) - 2]}-{kind}-{stamp}".replace("--", "-")


def wait_for(describe: Callable[[], dict[str, Any]], status_key: str, label: str,
             max_delay: float = 15.0) -> dict[str, Any]:
    """Poll a Describe call until the job ends, printing each status change; back off to 15 s."""
    delay, last = 1.0, None
    while True:
        job = describe()
        state = (job[status_key], job.get("SecondaryStatus"))
        if state != last:
            print(f"{label}: {' / '.join(s for s in state if s)}", flush=True)
            last = state
        if job[status_key] in DONE:
            return job
        time.sleep(delay)
        delay = min(delay * 1.5, max_delay)


def ensure_succeeded(job: dict[str, Any], status_key: str, label: str) -> None:
    if job[status_key] != "Completed":
        reason = job.get("FailureReason", "no reason given")
        raise JobFailed(f"{label} ended {job[status_key]}: {reason}")


def run_processing(sm: Any, *, name: str, image_uri: str, role_arn: str, raw_uri: str,
                   output_uri: str, instance_type: str) -> dict[str, str]:
    """Run the image's `prepare` entry point; returns the S3 URI of each output split."""
    outputs = {split: f"{output_uri}/{split}" for split in SPLITS}
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=role_arn,
        AppSpecification={"ImageUri": image_uri, "ContainerEntrypoint": ["prepare"]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": instance_type,
                                               "VolumeSizeInGB": 10}},
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
        ProcessingInputs=[{"InputName": "raw", "S3Input": {
            "S3Uri": raw_uri, "LocalPath": "/opt/ml/processing/input/raw",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        ProcessingOutputConfig={"Outputs": [
            {"OutputName": split, "S3Output": {
                "S3Uri": uri, "LocalPath": f"/opt/ml/processing/output/{split}",
                "S3UploadMode": "EndOfJob"}} for split, uri in outputs.items()]},
    )
    job = wait_for(lambda: sm.describe_processing_job(ProcessingJobName=name),
                   "ProcessingJobStatus", f"processing job {name}")
    ensure_succeeded(job, "ProcessingJobStatus", f"Processing job {name}")
    return outputs


def run_training(sm: Any, *, name: str, image_uri: str, role_arn: str,
                 channels: dict[str, str], output_uri: str, instance_type: str,
                 hyperparameters: dict[str, str]) -> dict[str, Any]:
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=role_arn,
        AlgorithmSpecification={
            "TrainingImage": image_uri, "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": m, "Regex": rf"{m}=([0-9.]+);"} for m in METRICS]},
        HyperParameters=hyperparameters,
        InputDataConfig=[{"ChannelName": channel, "ContentType": content_type,
                          "DataSource": {"S3DataSource": {
                              "S3DataType": "S3Prefix", "S3Uri": uri,
                              "S3DataDistributionType": "FullyReplicated"}}}
                         for channel, (uri, content_type) in channels.items()],
        OutputDataConfig={"S3OutputPath": output_uri},
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    job = wait_for(lambda: sm.describe_training_job(TrainingJobName=name),
                   "TrainingJobStatus", f"training job {name}")
    ensure_succeeded(job, "TrainingJobStatus", f"Training job {name}")
    return job


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


def launch(args: argparse.Namespace) -> dict[str, Any]:
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    base = f"s3://{args.bucket}/{args.prefix.strip('/')}"
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or export_titanic(Path(tmp) / "titanic.csv")
        bucket, _, key = f"{base}/data/raw/{data.name}"[5:].partition("/")
        s3.upload_file(str(data), bucket, key)
    splits = run_processing(
        sm, name=job_name(args.job_prefix, "prep"), image_uri=args.image_uri,
        role_arn=args.role_arn, raw_uri=f"{base}/data/raw", output_uri=f"{base}/data/prepared",
        instance_type=args.instance_type)
    job = run_training(
        sm, name=job_name(args.job_prefix, "train"), image_uri=args.image_uri,
        role_arn=args.role_arn, output_uri=f"{base}/models", instance_type=args.instance_type,
        hyperparameters=read_hyperparameters(args.hyperparameters, args.hyperparameter),
        channels={"train": (splits["train"], "text/csv"),
                  "validation": (splits["validation"], "text/csv"),
                  "preprocessor": (splits["preprocessor"], "application/json")})
    return {
        "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        "TrainingJobName": job["TrainingJobName"],
        "Metrics": {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])},
        "TestDataUri": splits["test"],
        "DataValidationReportUri": splits["report"],
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image-uri", required=True, help="the model image (ECR URI)")
    p.add_argument("--role-arn", required=True, help="SageMaker execution role ARN")
    p.add_argument("--bucket", required=True, help="bucket for data and model artifacts")
    p.add_argument("--prefix", required=True, help="key prefix, e.g. <project>/<commit>")
    p.add_argument("--data", type=Path, help="raw CSV (Survived,Pclass,Sex,Age); "
                   "default: the Titanic list shipped in bokeh-sampledata")
    p.add_argument("--hyperparameters", type=Path, help="JSON file of hyperparameters "
                   "(model/hyperparameters.json in the pipeline)")
    p.add_argument("--hyperparameter", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hyperparameter")
    p.add_argument("--instance-type", default="ml.m5.large")
    p.add_argument("--job-prefix", default="sagepipe")
    p.add_argument("--output", type=Path, required=True, help="where to write the result JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = launch(args)
    except JobFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
