"""The Data Science SDK notebook's workflow: Train -> Save model -> Transform -> Endpoint config
-> Endpoint, ExecutionInput {JobName, ModelName, EndpointName}.

An XGBoost regression of the abalone's ring count (its age) on the XGBoost image, which honours
the built-in algorithm's contract (workflows/images/xgboost). The chain and its hyperparameters
are the notebook's (tests compare them with what the original SDK emitted); the difference is
what a real run needs: the image's MetricDefinitions (train:rmse, validation:rmse). Data:
workflows/data/abalone.csv, one-hot `sex` then the seven measurements, label first, written as
libsvm like the notebook's, split 70/15/15 with a fixed seed and uploaded by this module.

    python -m workflows.abalone [--image-uri URI] [--bucket B] [--prefix P] ...
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path
from typing import Any

from ds_stepfunctions.inputs import ExecutionInput
from ds_stepfunctions.steps import (
    Chain,
    EndpointConfigStep,
    EndpointStep,
    ModelStep,
    TrainingStep,
    TransformStep,
    training_input,
)
from ds_stepfunctions.workflow import Workflow
from workflows import aws, stack
from workflows.states import XGBOOST_METRICS, training_request

NAME = "sagepipe-abalone"
DATA = Path(__file__).resolve().parent / "data" / "abalone.csv"
XGBOOST_IMAGE_DIR = "workflows/images/xgboost"
SEXES = ("F", "I", "M")  # one-hot columns, in this order, before the 7 measurements
SPLITS = (("train", 0.70), ("validation", 0.85), ("test", 1.0))  # cumulative shares
SEED = 0
# The notebook's, less `silent` (XGBoost >= 1.0 refuses it; `verbosity` replaced it).
HYPERPARAMETERS = {"objective": "reg:squarederror", "num_round": 50, "max_depth": 5, "eta": 0.2,
                   "gamma": 4, "min_child_weight": 6, "subsample": 0.7}
IMAGE = stack.Parameter("XGBoostImageUri", "The XGBoost image (workflows/images/xgboost in ECR)")


def libsvm_rows(seed: int = SEED) -> dict[str, str]:
    """The abalone rows split train/validation/test by a seeded shuffle, as libsvm text with
    the ring count as label and every value written out (zeros included)."""
    with DATA.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    random.Random(seed).shuffle(rows)  # noqa: S311 - a reproducible split, not a secret
    measurements = [name for name in rows[0] if name not in ("sex", "rings")]
    parts, start = {}, 0
    for name, share in SPLITS:
        end = round(len(rows) * share)
        parts[name] = "".join(
            " ".join([repr(float(row["rings"]))] + [
                f"{i}:{value!r}" for i, value in enumerate(
                    [float(row["sex"] == sex) for sex in SEXES]
                    + [float(row[m]) for m in measurements])]) + "\n"
            for row in rows[start:end])
        start = end
    return parts


def data_uri(place: aws.Place, split: str) -> str:
    return place.uri("abalone", split)


def build(place: aws.Place, image_uri: str, name: str = NAME) -> Workflow:
    execution_input = ExecutionInput(schema={"JobName": str, "ModelName": str,
                                             "EndpointName": str})
    estimator = training_request(image_uri, place.sagemaker_role_arn,
                                 place.uri("abalone", "output"), place.instance_type,
                                 XGBOOST_METRICS)
    train = TrainingStep(
        "Train Step", estimator=estimator, hyperparameters=HYPERPARAMETERS,
        data={split: training_input(data_uri(place, split), content_type="libsvm")
              for split in ("train", "validation")},
        job_name=execution_input["JobName"])
    model = ModelStep("Save model", model=train.get_expected_model(),
                      model_name=execution_input["ModelName"])
    transform = TransformStep(
        "Transform Input Dataset",
        transformer={"TransformOutput": {"S3OutputPath": place.uri("abalone", "batch-out")},
                     "TransformResources": {"InstanceCount": 1,
                                            "InstanceType": place.instance_type}},
        job_name=execution_input["JobName"], model_name=execution_input["ModelName"],
        data=data_uri(place, "test"), content_type="text/libsvm")
    config = EndpointConfigStep("Create Endpoint Config",
                                endpoint_config_name=execution_input["ModelName"],
                                model_name=execution_input["ModelName"],
                                initial_instance_count=1, instance_type=place.instance_type)
    endpoint = EndpointStep("Create Endpoint", endpoint_name=execution_input["EndpointName"],
                            endpoint_config_name=execution_input["ModelName"])
    return Workflow(name, Chain([train, model, transform, config, endpoint]),
                    aws.local_role("sagepipe-workflows"), execution_input=execution_input)


def get_cloudformation_template() -> str:
    workflow = build(stack.PLACE, "${XGBoostImageUri}")
    return stack.template(workflow, "The abalone workflow (train, transform, deploy XGBoost), "
                          "its role least-privileged", stack.Stack((*stack.COMMON, IMAGE)))


def upload_data(s3: Any, place: aws.Place) -> dict[str, str]:
    """The three splits, each under a prefix of its own."""
    return {split: aws.put(s3, f"{data_uri(place, split)}/abalone-{split}.libsvm",
                           text.encode()) for split, text in libsvm_rows().items()}


def main(argv: list[str] | None = None) -> int:
    p = aws.parser(__doc__.splitlines()[0], NAME)
    p.add_argument("--image-uri", default=aws.local_image("sagepipe-xgboost"),
                   help="the XGBoost image")
    p.add_argument("--job-name", help="training/transform job name (default: abalone-<time>)")
    p.add_argument("--endpoint-name", help="endpoint to create (default: the job name)")
    args = p.parse_args(argv)
    settings = aws.settings(args)
    job = args.job_name or aws.job_name("abalone")
    inputs = {"JobName": job, "ModelName": job, "EndpointName": args.endpoint_name or job}
    aws.check_image(aws.client("ecr", settings.region), args.image_uri, XGBOOST_IMAGE_DIR)
    s3 = aws.client("s3", settings.region)
    aws.ensure_bucket(s3, settings.place.bucket, settings.region)
    upload_data(s3, settings.place)
    aws.run(build(settings.place, args.image_uri, settings.name), inputs, settings, job)
    if not settings.wait:
        return 0
    aws.wait_for_endpoint(aws.client("sagemaker", settings.region), inputs["EndpointName"])
    rows = libsvm_rows()["test"].splitlines()[:3]
    answer = aws.client("sagemaker-runtime", settings.region).invoke_endpoint(
        EndpointName=inputs["EndpointName"], ContentType="text/libsvm",
        Body="\n".join(rows).encode())
    print(f"endpoint {inputs['EndpointName']} predicts {answer['Body'].read().decode()} rings "
          f"for 3 test abalones of {', '.join(row.split()[0] for row in rows)}; delete it "
          f"with: aws sagemaker delete-endpoint --endpoint-name {inputs['EndpointName']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
