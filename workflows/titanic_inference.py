"""Hermione's inference workflow, linked to a training run: the training job name in, the
inference rows scored with that job's model and saved preprocessor, with a header.

    Find the trained model -> Preprocessing step -> Save model -> Batch transform
    -> Write predictions          (each task caught to "ML Workflow failed")

- "Find the trained model" reads the training job (DescribeTrainingJob): its model artifact,
  its image, and its `preprocessor` channel, the preprocessor it was trained with. No artifact
  path is written in the definition.
- "Preprocessing step" runs `prepare --step inference` with that SAVED preprocessor (never
  refitted): rows it cannot score are rejected with their line in a report; the others become
  the model's columns, Age imputed with the training median.
- "Batch transform" scores those rows (CSV lines in, `label,probability` lines out).
- "Write predictions" (`prepare --step predictions`) joins each answer to its row as given
  and writes the header. SageMaker's transform cannot: it treats every CSV line as a record
  and writes none, and DataProcessing's JoinSource would still need this step for the header;
  here the join also checks one answer per row.

ExecutionInput {TrainingJobName, JobName, InferenceData}: JobName names this run's jobs, model
and output prefix; InferenceData is the S3 prefix of CSV files with a header naming Pclass,
Sex and Age (other columns, an ID or the label, are kept in the output).

    python -m workflows.titanic_inference --training-job-name NAME [--data rows.csv] ...
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ds_stepfunctions.inputs import ExecutionInput, Format, Intrinsic, StepInput
from ds_stepfunctions.steps import (
    Chain,
    ModelStep,
    ProcessingStep,
    Task,
    TransformStep,
    processing_input,
    processing_output,
)
from ds_stepfunctions.workflow import Workflow
from workflows import aws, stack
from workflows.states import catch_failures, failure_state, transform_resources
from workflows.titanic_train import PROCESSING, processor

NAME = "sagepipe-titanic-inference"
DESCRIBE_TRAINING_JOB = "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob"
PREPROCESSOR_CHANNEL = ("$.InputDataConfig[?(@.ChannelName == 'preprocessor')]"
                        ".DataSource.S3DataSource.S3Uri")


def build(place: aws.Place, name: str = NAME) -> Workflow:
    execution_input = ExecutionInput(schema={"TrainingJobName": str, "JobName": str,
                                             "InferenceData": str})
    job = execution_input["JobName"]
    model = StepInput()["Model"]

    def run_uri(part: str) -> Format:
        return Format(place.uri("titanic", "inference", "{}", part), job)

    find = Task(
        "Find the trained model", resource=DESCRIBE_TRAINING_JOB,
        parameters={"TrainingJobName": execution_input["TrainingJobName"]},
        result_selector={"Image": StepInput()["AlgorithmSpecification"]["TrainingImage"],
                         "ModelDataUrl": StepInput()["ModelArtifacts"]["S3ModelArtifacts"],
                         "PreprocessorChannel.$": PREPROCESSOR_CHANNEL},
        result_path="$.Model")
    prepare = ProcessingStep(
        "Preprocessing step", processor=processor(model["Image"], place),
        job_name=Format("{}-prepare", job),
        inputs=[processing_input(execution_input["InferenceData"], f"{PROCESSING}/input/raw",
                                 input_name="raw"),
                processing_input(Intrinsic("States.ArrayGetItem", model["PreprocessorChannel"],
                                           0),
                                 f"{PROCESSING}/input/preprocessor", input_name="preprocessor")],
        outputs=[processing_output(f"{PROCESSING}/output/{part}", run_uri(part),
                                   output_name=part) for part in ("rows", "kept", "report")],
        container_arguments=["--step", "inference"], result_path=None)
    save = ModelStep("Save model", model={
        "ExecutionRoleArn": place.sagemaker_role_arn, "ModelName": job,
        "PrimaryContainer": {"Image": model["Image"], "ModelDataUrl": model["ModelDataUrl"]}},
        result_path=None)
    # The transform reads a folder (trailing slash): each output is then `<file>.out` right
    # under S3OutputPath, where "Write predictions" looks for it (a bare key prefix `rows`
    # would put it under `rows/`).
    transform = TransformStep(
        "Batch transform", transformer=transform_resources(run_uri("transformed"),
                                                           place.instance_type),
        job_name=job, model_name=job, data=run_uri("rows/"), content_type="text/csv",
        split_type="Line", result_path=None)
    predictions = ProcessingStep(
        "Write predictions", processor=processor(model["Image"], place),
        job_name=Format("{}-predictions", job),
        inputs=[processing_input(run_uri("kept"), f"{PROCESSING}/input/kept", input_name="kept"),
                processing_input(run_uri("transformed"), f"{PROCESSING}/input/transformed",
                                 input_name="transformed")],
        outputs=[processing_output(f"{PROCESSING}/output/predictions", run_uri("predictions"),
                                   output_name="predictions")],
        container_arguments=["--step", "predictions"],
        result_selector={"Predictions": StepInput()["ProcessingOutputConfig"]["Outputs"][0][
            "S3Output"]["S3Uri"]},
        result_path="$.Output")
    steps = [find, prepare, save, transform, predictions]
    catch_failures(failure_state(), *steps)
    return Workflow(name, Chain(steps), aws.local_role("sagepipe-workflows"),
                    execution_input=execution_input)


def get_cloudformation_template() -> str:
    return stack.template(build(stack.PLACE), "Hermione's Titanic inference workflow (the "
                          "saved preprocessor, a batch transform, predictions with a header), "
                          "its role least-privileged", stack.Stack(stack.COMMON))


def check_training_job(sm: Any, name: str) -> None:
    """Refuse, before anything runs, a job that has no model or no preprocessor channel."""
    try:
        job = sm.describe_training_job(TrainingJobName=name)
    except ClientError as error:
        raise SystemExit(f"training job {name}: {error.response['Error']['Message']}") from None
    if job["TrainingJobStatus"] != "Completed":
        raise SystemExit(f"training job {name} is {job['TrainingJobStatus']}, not Completed: "
                         f"it has no model to score with ({job.get('FailureReason', '')})")
    if "preprocessor" not in {c["ChannelName"] for c in job.get("InputDataConfig", [])}:
        raise SystemExit(f"training job {name} has no 'preprocessor' channel: it was not "
                         "trained by titanic_train (or the pipeline), whose preprocessor this "
                         "workflow reuses")


def default_rows() -> bytes:
    """Passengers to score when no file is given: a few, with an ID column, a missing Age and
    one row the model cannot score (class 4), which the report lists."""
    rows = [("PassengerId", "Pclass", "Sex", "Age"), (1, 1, "female", 29), (2, 3, "male", ""),
            (3, 2, "female", 8), (4, 3, "male", 40), (5, 4, "male", 30)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def main(argv: list[str] | None = None) -> int:
    p = aws.parser(__doc__.splitlines()[0], NAME)
    p.add_argument("--training-job-name", required=True,
                   help="a Completed training job of titanic_train (or of the pipeline)")
    p.add_argument("--data", type=Path, help="CSV of passengers to score (header naming Pclass, "
                   "Sex, Age; default: five sample rows)")
    p.add_argument("--job-name", help="this run's name (default: titanic-inference-<time>)")
    args = p.parse_args(argv)
    settings = aws.settings(args)
    job = args.job_name or aws.job_name("titanic-inference")
    check_training_job(aws.client("sagemaker", settings.region), args.training_job_name)
    s3 = aws.client("s3", settings.region)
    aws.ensure_bucket(s3, settings.place.bucket, settings.region)
    rows_uri = settings.place.uri("titanic", "inference", job, "input")
    aws.put(s3, f"{rows_uri}/{args.data.name if args.data else 'passengers.csv'}",
            args.data.read_bytes() if args.data else default_rows())
    inputs = {"TrainingJobName": args.training_job_name, "JobName": job,
              "InferenceData": rows_uri}
    output = aws.run(build(settings.place, settings.name), inputs, settings, job)
    if output is not None:
        predictions = output["Output"]["Predictions"]
        bucket, _, prefix = predictions.removeprefix("s3://").partition("/")
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            print(f"s3://{bucket}/{item['Key']}:\n"
                  + aws.get(s3, f"s3://{bucket}/{item['Key']}").decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
