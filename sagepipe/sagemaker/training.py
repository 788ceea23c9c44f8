"""Training jobs: SageMaker's `/opt/ml` contract for `train`, and model artifacts to S3."""

from __future__ import annotations

import json
import math
import os
import re
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from sagepipe.errors import AWSError, ValidationException
from sagepipe.sagemaker.job_kind import (
    DEFAULT_MAX_RUNTIME,
    ContainerJobKind,
    JobFailure,
    Launch,
    require_s3_uri,
    require_under,
    write_json,
)
from sagepipe.sagemaker.metrics import compile_definitions
from sagepipe.sagemaker.resources import Document
from sagepipe.sagemaker.sandbox import CONTAINER_ML_ROOT, Sandbox

HOST = "algo-1"
DEFAULT_CHECKPOINTS = "/opt/ml/checkpoints"
FLAGS = ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
         "EnableManagedSpotTraining")


def resource_config(instance_type: str) -> dict[str, Any]:
    """`resourceconfig.json` of a one-host cluster, as SageMaker writes it."""
    return {"current_host": HOST, "hosts": [HOST], "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster", "network_interface_name": "eth0",
            "instance_groups": [{"instance_group_name": "homogeneousCluster",
                                 "instance_type": instance_type, "hosts": [HOST]}]}


def env_suffix(name: str) -> str:
    """`learning-rate` -> `LEARNING_RATE`, how the training toolkit names SM_HP_/SM_CHANNEL_."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def decoded(value: str) -> Any:
    """A hyperparameter as the training toolkit reads it: JSON if it parses, else the string."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def pack(directory: Path, archive: Path) -> None:
    """Tar+gzip a directory's content with its files at the archive root, as SageMaker does."""
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(directory.iterdir()):
            tar.add(child, arcname=child.name)


class Training(ContainerJobKind):
    resource = "TrainingJob"
    arn_type = "training-job"
    label = "training job"
    log_group = "TrainingJobs"
    start_field = "TrainingStartTime"
    end_field = "TrainingEndTime"
    failure_files = ("failure", "message")
    secondary = True

    def validate(self, request: dict[str, Any]) -> None:
        algorithm = request.get("AlgorithmSpecification") or {}
        if not algorithm.get("TrainingImage"):
            raise ValidationException(
                "AlgorithmSpecification.TrainingImage is required: the local AWS "
                "runs training images (AlgorithmName and SageMaker's built-in "
                "algorithms are not emulated).")
        require_s3_uri(request["OutputDataConfig"]["S3OutputPath"],
                       "OutputDataConfig.S3OutputPath")
        count = (request.get("ResourceConfig") or {}).get("InstanceCount", 1)
        if count != 1:
            raise ValidationException(
                f"ResourceConfig.InstanceCount is {count}: the local AWS trains on "
                f"one host ({HOST}); set InstanceCount to 1.")
        seen: set[str] = set()
        for i, channel in enumerate(request.get("InputDataConfig", [])):
            self._validate_channel(channel, f"InputDataConfig[{i}]", algorithm, seen)
        compile_definitions(algorithm.get("MetricDefinitions", []))
        if checkpoint := request.get("CheckpointConfig"):
            require_s3_uri(checkpoint["S3Uri"], "CheckpointConfig.S3Uri")
            require_under(checkpoint.get("LocalPath", DEFAULT_CHECKPOINTS),
                          PurePosixPath(CONTAINER_ML_ROOT),
                          "CheckpointConfig.LocalPath")

    @staticmethod
    def _validate_channel(channel: dict[str, Any], where: str, algorithm: dict[str, Any],
                          seen: set[str]) -> None:
        name = channel["ChannelName"]
        if name in seen:
            raise ValidationException(
                f"Channel names must be unique: {name!r} appears more than once "
                "in InputDataConfig.")
        seen.add(name)
        if name in (".", ".."):
            # The model's pattern allows them, but a channel is a folder under
            # /opt/ml/input/data/: these would land on the job's own input (its hyperparameters).
            raise ValidationException(
                f"{where}.ChannelName {name!r} is not a valid channel name: a channel is the "
                "folder /opt/ml/input/data/<name>; use letters, digits, '.', '-' or '_', other "
                "than '.' and '..'.")
        source = channel["DataSource"].get("S3DataSource")
        if source is None:
            raise ValidationException(
                f"{where}.DataSource: the local AWS reads channels from S3 only; "
                "set DataSource.S3DataSource.")
        if source["S3DataType"] not in ("S3Prefix", "ManifestFile"):
            raise ValidationException(
                f"{where}.DataSource.S3DataSource.S3DataType "
                f"{source['S3DataType']} is not emulated locally; use S3Prefix or "
                "ManifestFile.")
        require_s3_uri(source["S3Uri"], f"{where}.DataSource.S3DataSource.S3Uri")
        if channel.get("InputMode", algorithm["TrainingInputMode"]) == "Pipe":
            raise ValidationException(
                f"{where}: Pipe input mode is not emulated locally; use File or "
                f"FastFile (the data is copied to /opt/ml/input/data/{name}).")

    def new_document(self, request: dict[str, Any], now: float) -> Document:
        doc = super().new_document(request, now)
        doc.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME})
        for flag in FLAGS:
            doc.setdefault(flag, False)
        return doc

    def end(self, doc: Document, status: str, **details: str | None) -> None:
        super().end(doc, status, **details)
        if self.start_field in doc:
            seconds = max(1, math.ceil(doc[self.end_field] - doc[self.start_field]))
            doc["TrainingTimeInSeconds"] = doc["BillableTimeInSeconds"] = seconds

    def image_uri(self, doc: Document) -> str:
        return doc["AlgorithmSpecification"]["TrainingImage"]

    def max_runtime(self, doc: Document) -> int:
        return doc["StoppingCondition"].get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME)

    def prepare(self, doc: Document, sandbox: Sandbox) -> Launch:
        algorithm = doc["AlgorithmSpecification"]
        channels = doc.get("InputDataConfig", [])
        instance_type = (doc.get("ResourceConfig") or {}).get("InstanceType", "local")
        data_config = {c["ChannelName"]: self._channel_config(c, algorithm) for c in channels}
        config = sandbox.host("/opt/ml/input/config")
        hyperparameters = doc.get("HyperParameters", {})
        write_json(config / "hyperparameters.json", hyperparameters)
        write_json(config / "inputdataconfig.json", data_config)
        write_json(config / "resourceconfig.json", resource_config(instance_type))
        for channel in channels:
            source = channel["DataSource"]["S3DataSource"]
            name = channel["ChannelName"]
            self.fetch(source["S3Uri"], source["S3DataType"],
                       sandbox.host(f"/opt/ml/input/data/{name}"), f'channel "{name}"')
        if checkpoint := doc.get("CheckpointConfig"):
            self._restore_checkpoints(checkpoint, sandbox)
        hps = {k: decoded(v) for k, v in hyperparameters.items()}
        env = {
            "SM_HPS": json.dumps(hps),
            **{f"SM_HP_{env_suffix(k)}": v if isinstance(v, str) else json.dumps(v)
               for k, v in hps.items()},
            "SM_CHANNELS": json.dumps(sorted(data_config)),
            **{f"SM_CHANNEL_{env_suffix(c)}": sandbox.visible(f"/opt/ml/input/data/{c}")
               for c in data_config},
            "SM_CURRENT_HOST": HOST,
            "SM_HOSTS": json.dumps([HOST]),
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_NUM_GPUS": "0",
            "SM_INPUT_DATA_CONFIG": json.dumps(data_config),
            "SM_RESOURCE_CONFIG": json.dumps(resource_config(instance_type)),
            "TRAINING_JOB_NAME": doc["TrainingJobName"],
            "TRAINING_JOB_ARN": doc["TrainingJobArn"],
            "AWS_REGION": self.settings.region,
            "AWS_DEFAULT_REGION": self.settings.region,
            **doc.get("Environment", {}),
        }
        argv = [*algorithm.get("ContainerEntrypoint", ["train"]),
                *algorithm.get("ContainerArguments", [])]
        return Launch(argv, env, algorithm.get("MetricDefinitions", []))

    @staticmethod
    def _channel_config(channel: dict[str, Any], algorithm: dict[str, Any]) -> dict[str, str]:
        source = channel["DataSource"]["S3DataSource"]
        config = {"TrainingInputMode": channel.get("InputMode", algorithm["TrainingInputMode"]),
                  "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                  "RecordWrapperType": channel.get("RecordWrapperType", "None")}
        if "ContentType" in channel:
            config["ContentType"] = channel["ContentType"]
        return config

    def _restore_checkpoints(self, checkpoint: dict[str, str], sandbox: Sandbox) -> None:
        """Checkpoints a previous job left under CheckpointConfig.S3Uri; none is normal."""
        local = sandbox.host(checkpoint.get("LocalPath", DEFAULT_CHECKPOINTS))
        local.mkdir(parents=True, exist_ok=True)
        try:
            self.s3.download(checkpoint["S3Uri"], local)
        except AWSError as err:
            if err.code != "NoSuchKey":
                raise JobFailure(f'ClientError: Could not restore the checkpoints from '
                                 f'"{checkpoint["S3Uri"]}": {err.message}') from None

    def collect(self, doc: Document, sandbox: Sandbox, stopped: bool) -> Document:
        """Model and output data to `S3OutputPath/<job>/output/`; checkpoints back to S3.

        A stopped job uploads too: SageMaker gives the algorithm its SIGTERM grace period to
        save a model and keeps what it saved.
        """
        output = f"{doc['OutputDataConfig']['S3OutputPath'].rstrip('/')}/" \
                 f"{doc['TrainingJobName']}/output"
        model_dir = sandbox.host("/opt/ml/model")
        data_dir = sandbox.host("/opt/ml/output/data")
        with tempfile.TemporaryDirectory(dir=self.settings.subdir("tmp")) as tmp:
            if doc["OutputDataConfig"].get("CompressionType") == "NONE":
                artifacts = f"{output}/model/"
                self.upload(model_dir, artifacts, "the model artifacts")
            else:
                artifacts = f"{output}/model.tar.gz"
                pack(model_dir, Path(tmp, "model.tar.gz"))
                self.upload(Path(tmp, "model.tar.gz"), artifacts, "the model artifacts")
            if any(p.is_file() for p in data_dir.rglob("*")):
                pack(data_dir, Path(tmp, "output.tar.gz"))
                self.upload(Path(tmp, "output.tar.gz"), f"{output}/output.tar.gz",
                                 "the output data")
        if checkpoint := doc.get("CheckpointConfig"):
            self.upload(sandbox.host(checkpoint.get("LocalPath", DEFAULT_CHECKPOINTS)),
                             checkpoint["S3Uri"], "the checkpoints")
        return {"ModelArtifacts": {"S3ModelArtifacts": artifacts}}

