"""Helpers for the SageMaker job tests: a tiny image that really runs, requests, waiting."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from testkit import register_image, unique

from sagepipe.config import Settings
from sagepipe.logs.streams import streams_of

TOY_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-toy:test"
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
TERMINAL = ("Completed", "Failed", "Stopped")

# `train`: what it does is picked by the `mode` hyperparameter; it reports what it saw at the
# /opt/ml paths of the SageMaker contract in /opt/ml/model/report.json.
TRAIN = r'''#!/usr/bin/env python3
import json, os, signal, sys, time
from pathlib import Path

ml = Path("/opt/ml")
hps = json.loads((ml / "input/config/hyperparameters.json").read_text())
mode = hps.get("mode", "ok")
print(f"mode={mode}", flush=True)
if mode == "fail":
    (ml / "output/failure").write_text("Bad hyperparameter epochs: must be a positive integer\n")
    sys.exit(1)
if mode == "crash":
    print("about to crash", flush=True)
    sys.exit(3)
if mode == "sleep":
    def save_and_exit(signum, frame):
        (ml / "model/stopped.txt").write_text("saved on SIGTERM")
        sys.exit(0)
    signal.signal(signal.SIGTERM, save_and_exit)
    (ml / "output/data/pid").write_text(str(os.getpid()))
    print("sleeping", flush=True)
    while True:
        time.sleep(1)
channels = {
    channel.name: {str(f.relative_to(channel)): f.read_text()
                   for f in sorted(channel.rglob("*")) if f.is_file()}
    for channel in sorted((ml / "input/data").iterdir())
}
for epoch, loss in enumerate([0.9, 0.5, 0.25]):
    print(f"epoch {epoch}: loss={loss}", flush=True)
print("validation:accuracy=0.875;")
checkpoints = ml / "checkpoints"
restored = sorted(p.name for p in checkpoints.iterdir()) if checkpoints.is_dir() else None
if restored is not None:
    (checkpoints / (os.environ["TRAINING_JOB_NAME"] + ".ckpt")).write_text("step 3")
report = {
    "hyperparameters": hps,
    "channels": channels,
    "config": {name: json.loads((ml / "input/config" / name).read_text())
               for name in ("inputdataconfig.json", "resourceconfig.json")},
    "env": {k: v for k, v in os.environ.items()
            if k.startswith(("SM_", "TRAINING_JOB_", "AWS_REGION")) or k == "EXTRA"},
    "restored_checkpoints": restored,
    "cwd": os.getcwd(),
}
(ml / "model/report.json").write_text(json.dumps(report))
(ml / "model/weights").mkdir()
(ml / "model/weights/layer1.txt").write_text("1 2 3")
(ml / "output/data/extra.txt").write_text("more output")
'''

# `process`: copies the CSVs it is given upper-cased; MODE=fail|sleep in its environment.
PROCESS = r'''#!/usr/bin/env python3
import argparse, json, os, sys, time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--output", required=True)
args = parser.parse_args()
config = json.loads(Path("/opt/ml/config/processingjobconfig.json").read_text())
mode = os.environ.get("MODE", "ok")
print(f"mode={mode}", flush=True)
if mode == "fail":
    Path("/opt/ml/output/message").write_text("Input has no header row")
    sys.exit(2)
if mode == "sleep":
    print("sleeping", flush=True)
    time.sleep(3600)
rows = 0
for source in sorted(Path(args.input).rglob("*.csv")):
    text = source.read_text()
    (Path(args.output) / source.name).write_text(text.upper())
    rows += len(text.splitlines())
(Path(args.output) / "job.json").write_text(json.dumps({
    "job": config["ProcessingJobName"], "greeting": os.environ.get("GREETING"),
    "argv": sys.argv[1:]}))
Path("/opt/ml/output/message").write_text(f"processed {rows} rows")
'''


def register_toy_image(settings: Settings) -> str:
    """Write the toy image under the gateway's home and register it; returns its URI."""
    image = settings.home / "toy-image"
    image.mkdir(exist_ok=True)
    for name, text in (("train", TRAIN), ("process", PROCESS)):
        (image / name).write_text(text)
        (image / name).chmod(0o755)
    return register_image(settings, image, TOY_URI)



def new_bucket(s3: Any) -> str:
    bucket = unique("jobs")
    s3.create_bucket(Bucket=bucket)
    return bucket


def training_request(name: str, bucket: str, image: str = TOY_URI, **extra: Any) -> dict:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        **extra,
    }


def channel(name: str, uri: str, data_type: str = "S3Prefix") -> dict:
    return {"ChannelName": name,
            "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": uri}}}


def processing_request(name: str, bucket: str, image: str = TOY_URI, **extra: Any) -> dict:
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {
            "ImageUri": image, "ContainerEntrypoint": ["process"],
            "ContainerArguments": ["--input", "/opt/ml/processing/input/raw",
                                   "--output", "/opt/ml/processing/output/clean"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1,
                                                  "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 1}},
        "ProcessingInputs": [{"InputName": "raw", "S3Input": {
            "S3Uri": f"s3://{bucket}/raw/", "LocalPath": "/opt/ml/processing/input/raw",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "clean", "S3Output": {
            "S3Uri": f"s3://{bucket}/clean", "LocalPath": "/opt/ml/processing/output/clean",
            "S3UploadMode": "EndOfJob"}}]},
        **extra,
    }


def untar(body: bytes) -> dict[str, bytes]:
    """A .tar.gz's regular files by member name."""
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie no longer runs)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def log_text(settings: Settings, group: str, name: str) -> str:
    """The messages of the job's CloudWatch log stream(s) in /aws/sagemaker/<group>."""
    return "".join(f"{event.message}\n" for stream in streams_of(settings.home, name)
                   if stream.group.endswith(f"/{group}") for event in stream.events())

