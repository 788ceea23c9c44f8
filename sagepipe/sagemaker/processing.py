"""Processing jobs: S3 inputs copied to their LocalPath, the entry point run, outputs uploaded."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from sagepipe.errors import ValidationException
from sagepipe.processes import clip
from sagepipe.sagemaker.job_kind import (
    DEFAULT_MAX_RUNTIME,
    FAILURE_REASON_MAX,
    ContainerJobKind,
    Launch,
    read_text,
    require_s3_uri,
    require_under,
    write_json,
)
from sagepipe.sagemaker.resources import Document
from sagepipe.sagemaker.sandbox import Sandbox

PROCESSING_ROOT = PurePosixPath("/opt/ml/processing")
# What SageMaker writes to /opt/ml/config/processingjobconfig.json: the job's definition.
CONFIG_FIELDS = ("ProcessingJobArn", "ProcessingJobName", "AppSpecification", "Environment",
                 "ProcessingInputs", "ProcessingOutputConfig", "ProcessingResources",
                 "StoppingCondition", "NetworkConfig", "RoleArn")


class Processing(ContainerJobKind):
    resource = "ProcessingJob"
    arn_type = "processing-job"
    label = "processing job"
    log_group = "ProcessingJobs"
    start_field = "ProcessingStartTime"
    end_field = "ProcessingEndTime"
    failure_files = ("message", "failure")
    secondary = False

    def validate(self, request: dict[str, Any]) -> None:
        if not request["AppSpecification"].get("ContainerEntrypoint"):
            raise ValidationException(
                "AppSpecification.ContainerEntrypoint is required locally: a local image has no "
                "default entry point for processing. Name the executable to run, e.g. "
                '["prepare"] or ["python3", "/opt/ml/processing/code/script.py"].')
        count = request["ProcessingResources"]["ClusterConfig"].get("InstanceCount", 1)
        if count != 1:
            raise ValidationException(
                f"ProcessingResources.ClusterConfig.InstanceCount is {count}: the "
                "local AWS processes on one host; set InstanceCount to 1.")
        self._validate_channels(request.get("ProcessingInputs", []), "ProcessingInputs",
                                "InputName", "S3Input")
        outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs", [])
        self._validate_channels(outputs, "ProcessingOutputConfig.Outputs", "OutputName",
                                "S3Output")

    @staticmethod
    def _validate_channels(items: list[dict[str, Any]], where: str, name_key: str,
                           s3_key: str) -> None:
        """Inputs and outputs alike: unique names, S3 only, LocalPath under /opt/ml/processing."""
        seen: set[str] = set()
        for i, item in enumerate(items):
            here = f"{where}[{i}]"
            if item[name_key] in seen:
                raise ValidationException(
                    f"{name_key} {item[name_key]!r} appears more than once in "
                    f"{where}; names must be unique.")
            seen.add(item[name_key])
            if item.get("AppManaged"):
                continue
            s3 = item.get(s3_key)
            if s3 is None:
                raise ValidationException(
                    f"{here}: the local AWS supports {s3_key} only (dataset "
                    "definitions and Feature Store outputs are not emulated).")
            require_s3_uri(s3["S3Uri"], f"{here}.{s3_key}.S3Uri")
            if "LocalPath" not in s3:
                raise ValidationException(
                    f"{here}.{s3_key}.LocalPath is required: where the container "
                    f"sees the data, under {PROCESSING_ROOT}/.")
            require_under(s3["LocalPath"], PROCESSING_ROOT, f"{here}.{s3_key}.LocalPath")
            if s3.get("S3InputMode") == "Pipe":
                raise ValidationException(
                    f"{here}.{s3_key}.S3InputMode Pipe is not emulated locally; "
                    "use File.")

    def image_uri(self, doc: Document) -> str:
        return doc["AppSpecification"]["ImageUri"]

    def max_runtime(self, doc: Document) -> int:
        return (doc.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds",
                                                        DEFAULT_MAX_RUNTIME)

    def prepare(self, doc: Document, sandbox: Sandbox) -> Launch:
        write_json(sandbox.host("/opt/ml/config/processingjobconfig.json"),
                   {k: doc[k] for k in CONFIG_FIELDS if k in doc})
        write_json(sandbox.host("/opt/ml/config/resourceconfig.json"),
                   {"current_host": "algo-1", "hosts": ["algo-1"]})
        for item in self._s3_items(doc.get("ProcessingInputs", []), "S3Input"):
            s3 = item["S3Input"]
            self.fetch(s3["S3Uri"], s3["S3DataType"], sandbox.host(s3["LocalPath"]),
                       f'input "{item["InputName"]}"')
        for item in self._s3_items(self._outputs(doc), "S3Output"):
            sandbox.host(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        app = doc["AppSpecification"]
        argv = [*app["ContainerEntrypoint"], *app.get("ContainerArguments", [])]
        return Launch([sandbox.visible(arg) for arg in argv], dict(doc.get("Environment", {})))

    def collect(self, doc: Document, sandbox: Sandbox, stopped: bool) -> Document:
        """Outputs are uploaded at the end of a job that completed (S3UploadMode EndOfJob;
        Continuous uploads are made at the end too)."""
        if stopped:
            return {}
        for item in self._s3_items(self._outputs(doc), "S3Output"):
            local = sandbox.host(item["S3Output"]["LocalPath"])
            if local.is_dir():  # a directory the job removed holds nothing to upload
                self.upload(local, item["S3Output"]["S3Uri"], f'output "{item["OutputName"]}"')
        return {}

    def exit_fields(self, sandbox: Sandbox) -> Document:
        message = read_text(sandbox.host("/opt/ml/output/message"))
        return {"ExitMessage": clip(message, FAILURE_REASON_MAX)} if message else {}

    @staticmethod
    def _outputs(doc: Document) -> list[dict[str, Any]]:
        return (doc.get("ProcessingOutputConfig") or {}).get("Outputs", [])

    @staticmethod
    def _s3_items(items: list[dict[str, Any]], s3_key: str) -> list[dict[str, Any]]:
        return [item for item in items if not item.get("AppManaged") and s3_key in item]
