"""Batch transform jobs: names, Create checks, and what a job reads, sends and writes.

A transform job serves its model as an endpoint does (`hosting.Replica`) and sends it the
records of its S3 input (`transform_run.py`). What SageMaker does with each object's bytes is in
`transform_records.py`; the run's knobs are resolved here, with SageMaker's precedence: the
request, else what the container answers on `GET /execution-parameters`, else the defaults
(docs your-algorithms-batch-code, "How Containers Serve Requests").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagepipe.clients import client
from sagepipe.config import Settings
from sagepipe.errors import AWSError
from sagepipe.logs.streams import LogStream, instance_id, transform_stream
from sagepipe.s3.object_store import ObjectStore, parse_s3_uri
from sagepipe.sagemaker.catalog import MODEL, ModelCatalog, model_container, not_emulated
from sagepipe.sagemaker.deployments import VariantSpec
from sagepipe.sagemaker.exceptions import ValidationException
from sagepipe.sagemaker.job_kind import JobFailure, JobKind, require_s3_uri
from sagepipe.sagemaker.resources import Document
from sagepipe.sagemaker.transform_records import DataProcessing

MAX_PAYLOAD_LIMIT_MB = 100  # SageMaker's ceiling for MaxPayloadInMB, and for it x concurrency
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_INVOCATION_TIMEOUT = 600  # "Your model containers must respond ... within 600 seconds"
DEFAULT_MAX_RETRIES = 3  # ModelClientConfig.InvocationsMaxRetries' default
STRATEGY_ENV = {"MultiRecord": "MULTI_RECORD", "SingleRecord": "SINGLE_RECORD"}


@dataclass(frozen=True)
class BatchSettings:
    """How a run sends its records: after the request, /execution-parameters and defaults."""

    strategy: str  # MultiRecord or SingleRecord
    max_payload_mb: int
    concurrency: int

    @classmethod
    def resolve(cls, doc: Document, advertised: dict[str, Any]) -> BatchSettings:
        """`advertised`: the container's /execution-parameters answer (already checked)."""
        strategies = {v: k for k, v in STRATEGY_ENV.items()}
        return cls(doc.get("BatchStrategy") or strategies.get(advertised.get("BatchStrategy", ""))
                   or "MultiRecord",
                   doc.get("MaxPayloadInMB", advertised.get("MaxPayloadInMB",
                                                            DEFAULT_MAX_PAYLOAD_MB)),
                   doc.get("MaxConcurrentTransforms")
                   or advertised.get("MaxConcurrentTransforms") or 1)

    def log_line(self) -> str:
        """As SageMaker's data log starts: `MaxConcurrentTransforms=1, MaxPayloadInMB=6, ...`."""
        return (f"MaxConcurrentTransforms={self.concurrency}, "
                f"MaxPayloadInMB={self.max_payload_mb}, "
                f"BatchStrategy={STRATEGY_ENV[self.strategy]}")


def execution_parameters(answer: Any) -> dict[str, Any]:
    """The usable members of a container's /execution-parameters answer (others ignored)."""
    if not isinstance(answer, dict):
        return {}
    usable: dict[str, Any] = {}
    concurrency, payload = answer.get("MaxConcurrentTransforms"), answer.get("MaxPayloadInMB")
    if isinstance(concurrency, int) and concurrency > 0:
        usable["MaxConcurrentTransforms"] = concurrency
    if isinstance(payload, int) and 0 <= payload <= MAX_PAYLOAD_LIMIT_MB:
        usable["MaxPayloadInMB"] = payload
    if answer.get("BatchStrategy") in STRATEGY_ENV.values():
        usable["BatchStrategy"] = answer["BatchStrategy"]
    return usable


class Transform(JobKind):
    resource = "TransformJob"
    arn_type = "transform-job"
    label = "transform job"
    log_group = "TransformJobs"
    start_field = "TransformStartTime"
    end_field = "TransformEndTime"
    secondary = False

    def __init__(self, settings: Settings, s3: ObjectStore, catalog: ModelCatalog) -> None:
        super().__init__(settings, s3)
        self.catalog = catalog

    def log_stream(self, name: str) -> LogStream:
        """`/aws/sagemaker/TransformJobs` `<job>/<instance id>`, as SageMaker names it (AWS
        puts the `[sagemaker logs]` data log in a stream of its own beside it; locally both
        are this one)."""
        return transform_stream(self.settings, name, instance_id(name))

    def validate(self, request: dict[str, Any]) -> None:
        self.catalog.fetch(MODEL, request["ModelName"])  # 'Could not find model "<arn>".'
        transform_input = request["TransformInput"]
        source = transform_input["DataSource"]["S3DataSource"]
        if source["S3DataType"] not in ("S3Prefix", "ManifestFile"):
            raise not_emulated(f"S3DataType {source['S3DataType']} for batch transform; use "
                               "S3Prefix or ManifestFile")
        require_s3_uri(source["S3Uri"], "TransformInput.DataSource.S3DataSource.S3Uri")
        split = transform_input.get("SplitType", "None")
        if split not in ("Line", "None"):
            raise not_emulated(f"SplitType {split} (records are not split out of {split} "
                               "files locally); use Line or None")
        output = request["TransformOutput"]
        require_s3_uri(output["S3OutputPath"], "TransformOutput.S3OutputPath")
        count = request["TransformResources"]["InstanceCount"]
        if count != 1:
            raise ValidationException(
                f"TransformResources.InstanceCount is {count}: the local AWS transforms on one "
                "host; set InstanceCount to 1.")
        if "DataCaptureConfig" in request:
            raise not_emulated("DataCaptureConfig for batch transform")
        payload = request.get("MaxPayloadInMB")
        if payload is not None and payload > MAX_PAYLOAD_LIMIT_MB:
            raise ValidationException(f"MaxPayloadInMB is {payload}: it cannot be greater than "
                                      f"{MAX_PAYLOAD_LIMIT_MB} MB.")
        concurrency = request.get("MaxConcurrentTransforms")
        if payload and concurrency and payload * concurrency > MAX_PAYLOAD_LIMIT_MB:
            raise ValidationException(
                f"MaxConcurrentTransforms x MaxPayloadInMB is {concurrency} x {payload}: it "
                f"cannot exceed {MAX_PAYLOAD_LIMIT_MB} MB.")
        self.data_processing(request)

    @staticmethod
    def data_processing(request: dict[str, Any]) -> DataProcessing | None:
        try:
            return DataProcessing.from_request(
                request.get("DataProcessing"), request["TransformInput"].get("SplitType", "None"),
                request["TransformInput"].get("ContentType"),
                request["TransformOutput"].get("Accept"))
        except ValueError as error:
            raise ValidationException(str(error)) from None

    # -- what a run works with ---------------------------------------------------------------

    def model_spec(self, doc: Document, environment: dict[str, str]) -> VariantSpec:
        """The model's container as it serves this job, with the job's Environment and
        `environment` (SageMaker's batch variables) over the model's own."""
        try:
            container = model_container(self.catalog.fetch(MODEL, doc["ModelName"]))
        except ValidationException as error:
            raise JobFailure(f"ClientError: {error.message}") from None
        return VariantSpec(name=doc["TransformJobName"], model=doc["ModelName"],
                           image=container["Image"],
                           model_data_url=container.get("ModelDataUrl"),
                           environment={**container.get("Environment", {}),
                                        **doc.get("Environment", {}), **environment},
                           weight=1.0)

    def input_objects(self, doc: Document) -> list[tuple[str, str]]:
        """The job's input objects in order, as (S3 URI, name relative to the input prefix):
        the output of `<prefix>/dir/a.csv` is `<S3OutputPath>/dir/a.csv.out`."""
        source = doc["TransformInput"]["DataSource"]["S3DataSource"]
        uri = source["S3Uri"]
        try:
            if source["S3DataType"] == "ManifestFile":
                return [(key_uri, key) for key, key_uri in self.manifest(uri)]
            bucket, prefix = parse_s3_uri(uri)
            pages = client(self.settings, "s3").get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix)
            keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])
                    if not obj["Key"].endswith("/")]
        except AWSError as error:
            raise JobFailure(f'ClientError: Could not read the input "{uri}": '
                             f"{error.message}") from None
        except (ClientError, BotoCoreError) as error:
            raise JobFailure(f'ClientError: Could not list the input "{uri}": {error}') from None
        if not keys:
            raise JobFailure(f'ClientError: No S3 objects found under S3 URL "{uri}" given in '
                             "input data source. Please ensure that the bucket exists and that "
                             "objects exist under that S3 prefix.")
        folder = prefix.rpartition("/")[0]
        return [(f"s3://{bucket}/{key}", key[len(folder):].lstrip("/")) for key in sorted(keys)]

    @staticmethod
    def output_uri(doc: Document, relative: str) -> str:
        return f"{doc['TransformOutput']['S3OutputPath'].rstrip('/')}/{relative}.out"

