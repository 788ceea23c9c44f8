"""What the CloudWatch Logs tests share: unique names, and a training image whose job prints
numbered lines, slowly enough for a follower to see them arrive."""

from __future__ import annotations

from pathlib import Path

from testkit import register_image, unique

from sagepipe.config import Settings

TICKER_URI = "000000000000.dkr.ecr.us-east-1.amazonaws.com/sagepipe-ticker:test"
# `train`: prints `tick 1` ... `tick N` (N: the `ticks` hyperparameter), one every 0.2 s.
TRAIN = r'''#!/usr/bin/env python3
import json, time
from pathlib import Path

hps = json.loads(Path("/opt/ml/input/config/hyperparameters.json").read_text())
for i in range(1, int(hps.get("ticks", "5")) + 1):
    print(f"tick {i}", flush=True)
    time.sleep(0.2)
print("done ticking")
'''



def register_ticker(settings: Settings) -> str:
    """The ticker image, registered with the local AWS of `settings`; returns its URI."""
    image = Path(settings.home) / "ticker-image"
    image.mkdir(exist_ok=True)
    (image / "train").write_text(TRAIN)
    (image / "train").chmod(0o755)
    return register_image(settings, image, TICKER_URI)


def training_job(sm, s3, image: str, ticks: int) -> str:
    """Start a training job of `image` printing `ticks` lines; returns its name."""
    name, bucket = unique("ticker"), unique("ticker-out")
    s3.create_bucket(Bucket=bucket)
    sm.create_training_job(
        TrainingJobName=name, RoleArn="arn:aws:iam::000000000000:role/SageMakerRole",
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        HyperParameters={"ticks": str(ticks)},
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    return name
