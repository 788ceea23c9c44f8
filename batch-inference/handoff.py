"""A file too large for one run of the function, handed to a SageMaker batch transform job of the
model behind the endpoint.

The job reads a copy of the file made inside S3 (UploadPartCopy: no byte passes through the
function) without its header line, under a folder of its own in the output bucket: a transform
sends every line to the model as a record, and could not pair a header line with an answer.
`InputFilter` sends the model its three columns and `JoinSource: Input` puts each answer after
its row, so the output, `<output prefix><input key>.out`, has the rows as they were plus
survived and probability (no header line: the job's marker, `<output prefix><input key>
.transform.json`, lists the columns). A row the model refuses fails the job, naming the row
(DescribeTransformJob's FailureReason, the job's log): a large file must be clean.

The job's name is derived from the object's bucket, key, ETag and version, so a redelivered
event finds its job (DescribeTransformJob, or ResourceInUse when two deliveries race) and starts
nothing new.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from csv_rows import PREDICTION_COLUMNS, FileRejected, Layout, open_rows

log = logging.getLogger("batch_inference")

FIRST_LINE_BYTES = 1024 * 1024  # read to find the header line; a longer first line is refused
PART_BYTES = 1024 ** 3  # UploadPartCopy copies up to 5 GB a part; parts (but the last) >= 5 MB
STAGING_PREFIX = "transform-input/"
JOB_NAME_LIMIT = 63


@dataclass(frozen=True)
class Source:
    """The object an S3 event is about."""

    bucket: str
    key: str
    etag: str
    version_id: str | None
    size: int
    sequencer: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def identity(self) -> dict[str, str]:
        """What an output records of its input (as object metadata), for redeliveries."""
        return {"source-etag": self.etag, "source-version-id": self.version_id or "null",
                "source-sequencer": self.sequencer}


def job_name(prefix: str, source: Source) -> str:
    """A transform job name that is the same for every delivery of one object's event."""
    digest = hashlib.sha256(f"{source.bucket}/{source.key}/{source.etag}/"
                            f"{source.version_id}".encode()).hexdigest()
    return f"{prefix}-{digest}"[:JOB_NAME_LIMIT]


def model_behind(sagemaker: Any, endpoint: str) -> str:
    """The model the endpoint's variant with the most traffic serves."""
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    variants = described.get("ProductionVariants") or []
    weights = {v["VariantName"]: v.get("CurrentWeight", 0) for v in variants}
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    ranked = sorted(config["ProductionVariants"],
                    key=lambda v: weights.get(v["VariantName"], 0), reverse=True)
    return ranked[0]["ModelName"]


def first_line(s3: Any, source: Source) -> tuple[Layout, int]:
    """The file's layout and the length in bytes of its header line (0 without a header)."""
    read = s3.get_object(Bucket=source.bucket, Key=source.key, IfMatch=source.etag,
                         Range=f"bytes=0-{FIRST_LINE_BYTES - 1}", **version(source))
    head = read["Body"].read()
    end = head.find(b"\n")
    line = head if end < 0 else head[:end + 1]
    layout, _ = open_rows([line])
    skipped = len(line) if layout.has_header else 0
    if skipped >= source.size:
        raise FileRejected("the file has a header line and no rows")
    return layout, skipped


def version(source: Source) -> dict[str, str]:
    return {"VersionId": source.version_id} if source.version_id else {}


def stage_copy(s3: Any, source: Source, start: int, bucket: str, key: str) -> None:
    """Copy bytes `start`.. of the source object to bucket/key, inside S3."""
    copy_source = {"Bucket": source.bucket, "Key": source.key, **version(source)}
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/csv")
    try:
        parts = []
        for number, first in enumerate(range(start, source.size, PART_BYTES), 1):
            last = min(first + PART_BYTES, source.size) - 1
            part = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                       PartNumber=number, CopySource=copy_source,
                                       CopySourceRange=f"bytes={first}-{last}",
                                       CopySourceIfMatch=source.etag)
            parts.append({"PartNumber": number, "ETag": part["CopyPartResult"]["ETag"]})
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": parts})
    except BaseException:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
        raise


def hand_off(s3: Any, sagemaker: Any, source: Source, *, endpoint: str, output_bucket: str,
             output_key: str, job_prefix: str, instance_type: str, reason: str) -> dict[str, Any]:
    """Start the transform job for `source` (once) and write its marker; the marker's content
    is what the function returns."""
    name = job_name(job_prefix, source)
    layout, header_bytes = first_line(s3, source)
    folder, _, filename = output_key.rpartition("/")
    staged = f"{STAGING_PREFIX}{name}/{filename}"
    marker = {"TransformJobName": name, "Reason": reason, "Input": source.uri,
              "Output": f"s3://{output_bucket}/{output_key}.out",
              "Columns": [*layout.columns, *PREDICTION_COLUMNS],
              "HeaderLineInInput": layout.has_header}
    if started(sagemaker, name):
        log.info("%s: transform job %s was already started for this object", source.uri, name)
    else:
        stage_copy(s3, source, header_bytes, output_bucket, staged)
        try:
            create_job(sagemaker, name, model_behind(sagemaker, endpoint), layout,
                       f"s3://{output_bucket}/{STAGING_PREFIX}{name}/",
                       f"s3://{output_bucket}/{folder}/", instance_type)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUse":
                raise
        log.info("%s: %s; transform job %s started, output %s", source.uri, reason, name,
                 marker["Output"])
    s3.put_object(Bucket=output_bucket, Key=f"{output_key}.transform.json",
                  Body=json.dumps(marker, indent=1).encode(), ContentType="application/json",
                  Metadata=source.identity())
    return {"status": "handed-off", **marker}


def started(sagemaker: Any, name: str) -> bool:
    try:
        sagemaker.describe_transform_job(TransformJobName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationException":  # no such job
            return False
        raise
    return True


def create_job(sagemaker: Any, name: str, model: str, layout: Layout, input_uri: str,
               output_uri: str, instance_type: str) -> None:
    selected = ",".join(map(str, layout.positions))
    sagemaker.create_transform_job(
        TransformJobName=name, ModelName=model, BatchStrategy="MultiRecord", MaxPayloadInMB=6,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": input_uri}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": output_uri, "Accept": "text/csv",
                         "AssembleWith": "Line"},
        TransformResources={"InstanceType": instance_type, "InstanceCount": 1},
        DataProcessing={"InputFilter": f"$[{selected}]", "JoinSource": "Input"})

