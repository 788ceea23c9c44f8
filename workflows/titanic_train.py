"""Hermione's training workflow: Processing (`prepare`) -> Training, each caught to one Fail.

The Titanic model image (model/): `prepare` validates and splits the raw passenger rows and
fits the preprocessor on the training split; `train` fits the forest on the train and
validation splits with that preprocessor. Each run writes its splits under its own prefix
(named after the processing job), so that the training job's `preprocessor` channel keeps
pointing at the preprocessor it was trained with: titanic_inference finds it there.
ExecutionInput {PreprocessingJobName, TrainingJobName}, as Hermione's machine, and
HyperParameters: the model's tuning (model/hyperparameters.json) comes with each run, so that the
state machine is the process and a change of hyperparameters needs no new one (the release
pipeline passes the commit's file). A failed job ends in "ML Workflow failed" with the job's
FailureReason in the cause.

    python -m workflows.titanic_train [--image-uri URI] [--data raw.csv] ...
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from typing import Any

from ds_stepfunctions.inputs import ExecutionInput, Format, Reference
from ds_stepfunctions.steps import (
    Chain,
    ProcessingStep,
    TrainingStep,
    processing_input,
    processing_output,
    training_input,
)
from ds_stepfunctions.workflow import Workflow
from workflows import aws, stack
from workflows.states import catch_failures, failure_state, training_request

NAME = "sagepipe-titanic-train"
REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = "model"
HYPERPARAMETERS = REPO / MODEL_DIR / "hyperparameters.json"
# What `train` prints (`name=value;`): SageMaker reads the job's metrics with these.
METRICS = [{"Name": name, "Regex": rf"{name}=([0-9.]+);"} for name in
           ("train:accuracy", "validation:accuracy", "validation:f1", "validation:auc")]
PREPARED = ("train", "validation", "test", "preprocessor", "report")
PROCESSING = "/opt/ml/processing"
IMAGE = stack.Parameter("TitanicImageUri", "The Titanic model image (model/ in ECR)")


def processor(image_uri: str | Reference, place: aws.Place) -> dict[str, Any]:
    """A CreateProcessingJob request running the image's `prepare` (the step comes as
    ContainerArguments `--step ...`)."""
    return {
        "AppSpecification": {"ImageUri": image_uri, "ContainerEntrypoint": ["prepare"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1,
                                                  "InstanceType": place.instance_type,
                                                  "VolumeSizeInGB": 10}},
        "RoleArn": place.sagemaker_role_arn,
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
    }


def prepared(place: aws.Place, job_name: Reference, part: str) -> Format:
    """Where the processing job `job_name` writes one of its outputs."""
    return Format(place.uri("titanic", "prepared", "{}", part), job_name)


def build(place: aws.Place, image_uri: str, name: str = NAME) -> Workflow:
    execution_input = ExecutionInput(schema={"PreprocessingJobName": str,
                                             "TrainingJobName": str, "HyperParameters": dict})
    job = execution_input["PreprocessingJobName"]
    prepare = ProcessingStep(
        "Preprocessing step", processor=processor(image_uri, place), job_name=job,
        inputs=[processing_input(place.uri("titanic", "raw"), f"{PROCESSING}/input/raw",
                                 input_name="raw")],
        outputs=[processing_output(f"{PROCESSING}/output/{part}", prepared(place, job, part),
                                   output_name=part) for part in PREPARED],
        container_arguments=["--step", "train"])
    channels = {part: training_input(prepared(place, job, part), content_type=content_type)
                for part, content_type in (("train", "text/csv"), ("validation", "text/csv"),
                                           ("preprocessor", "application/json"))}
    train = TrainingStep(
        "TrainStep", job_name=execution_input["TrainingJobName"], data=channels,
        estimator=training_request(image_uri, place.sagemaker_role_arn,
                                   place.uri("titanic", "models"), place.instance_type, METRICS),
        parameters={"HyperParameters": execution_input["HyperParameters"]})
    catch_failures(failure_state(), prepare, train)
    return Workflow(name, Chain([prepare, train]), aws.local_role("sagepipe-workflows"),
                    execution_input=execution_input)


def get_cloudformation_template() -> str:
    return stack.template(build(stack.PLACE, "${TitanicImageUri}"),
                          "Hermione's Titanic training workflow (prepare, train), its role "
                          "least-privileged", stack.Stack((*stack.COMMON, IMAGE)))


def pipeline_script(name: str) -> Any:
    """A module of the release pipeline's scripts (CodePipeline/scripts/NAME.py): this workflow
    trains on the same data and reads hyperparameters by the same rules as the pipeline's run."""
    spec = importlib.util.spec_from_file_location(name, REPO / "CodePipeline" / "scripts"
                                                  / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    p = aws.parser(__doc__.splitlines()[0], NAME)
    p.add_argument("--image-uri", default=aws.local_image("sagepipe-model"),
                   help="the Titanic model image")
    p.add_argument("--data", type=Path, help="raw CSV with Survived,Pclass,Sex,Age (default: "
                   "the Titanic list in bokeh-sampledata)")
    p.add_argument("--job-name", help="base of the job names (default: titanic-<time>)")
    p.add_argument("--hyperparameters", type=Path, default=HYPERPARAMETERS,
                   help="JSON object of the training job's hyperparameters")
    args = p.parse_args(argv)
    settings = aws.settings(args)
    base = args.job_name or aws.job_name("titanic")
    inputs = {"PreprocessingJobName": f"{base}-prepare", "TrainingJobName": f"{base}-train",
              "HyperParameters": pipeline_script("run_training").read_hyperparameters(
                  args.hyperparameters, [])}
    aws.check_image(aws.client("ecr", settings.region), args.image_uri, MODEL_DIR)
    s3 = aws.client("s3", settings.region)
    aws.ensure_bucket(s3, settings.place.bucket, settings.region)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or pipeline_script("default_data").export_titanic(
            Path(tmp) / "titanic.csv")
        # One file under the prefix: `prepare` reads every CSV there.
        aws.put(s3, f"{settings.place.uri('titanic', 'raw')}/titanic.csv", data.read_bytes())
    output = aws.run(build(settings.place, args.image_uri, settings.name), inputs, settings,
                     base)
    if output is not None:
        metrics = {m["MetricName"]: m["Value"] for m in output.get("FinalMetricDataList", [])}
        print(f"trained {output['TrainingJobName']}: {metrics}\nmodel "
              f"{output['ModelArtifacts']['S3ModelArtifacts']}\nscore rows with: python -m "
              f"workflows.titanic_inference --training-job-name {output['TrainingJobName']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
