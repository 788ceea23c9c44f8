"""Experiments (what the Data Science SDK notebook promised and never shipped): train candidate
hyperparameter sets side by side, keep the best by its validation metric, deploy it.

    Train candidates (Map: one XGBoost training job per candidate)
    -> Pick the best (Lambda) -> Save the best model -> Create endpoint config
    -> Endpoint exists? -> Update endpoint | Create endpoint

- The candidates come in the execution input, so an experiment is a new execution, not a new
  state machine; each runs as its own training job (`<JobName>-<index>`), in parallel.
- "Pick the best" is a Lambda (workflows/lambdas/pick_best.py): it reads each job's
  `validation:rmse` by name and ranks them. Pure ASL has no way to take a minimum over a list
  without a hand-written loop of Choice and Pass states; twenty lines of tested Python say it
  more plainly, and the same function reports the others.
- Deployment is an endpoint update when the endpoint exists (blue/green: the old model serves
  until the new one is healthy), a creation the first time: "Endpoint exists?" asks
  DescribeEndpoint and its Catch takes the creation path.
The output holds the best candidate and the losers, each with its hyperparameters and metrics.

ExecutionInput {JobName, ModelName, EndpointName, Candidates: [{"HyperParameters": {...}}]}.
Data: the abalone splits of workflows.abalone.

    python -m workflows.experiments [--endpoint-name NAME] [--candidates FILE] ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ds_stepfunctions.inputs import ExecutionInput, StepInput
from ds_stepfunctions.steps import (
    Catch,
    Chain,
    EndpointConfigStep,
    EndpointStep,
    LambdaStep,
    Map,
    ModelStep,
    Task,
    TrainingStep,
    training_input,
)
from ds_stepfunctions.workflow import Workflow
from workflows import abalone, aws, functions, stack
from workflows.states import XGBOOST_METRICS, catch_failures, failure_state, training_request

NAME = "sagepipe-experiments"
METRIC = "validation:rmse"
DESCRIBE_ENDPOINT = "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint"
PICK = functions.Function("PickBestFunction", "pick-best", "pick_best.handler",
                          "Experiments workflow: the best training job by a metric")
BASE = {"objective": "reg:squarederror", "subsample": "0.8", "seed": "0"}
CANDIDATES = [{"HyperParameters": {**BASE, "num_round": "30", "max_depth": "2", "eta": "0.3"}},
              {"HyperParameters": {**BASE, "num_round": "50", "max_depth": "5", "eta": "0.2"}},
              {"HyperParameters": {**BASE, "num_round": "80", "max_depth": "8", "eta": "0.1",
                                   "min_child_weight": "6"}}]


def build(place: aws.Place, image_uri: str, pick_function: str, name: str = NAME) -> Workflow:
    execution_input = ExecutionInput(schema={"JobName": str, "ModelName": str,
                                             "EndpointName": str, "Candidates": list})
    model_name, endpoint = execution_input["ModelName"], execution_input["EndpointName"]
    candidate = StepInput()
    train = TrainingStep(
        "Train candidate", job_name=candidate["JobName"],
        estimator=training_request(image_uri, place.sagemaker_role_arn,
                                   place.uri("experiments", "models"), place.instance_type,
                                   XGBOOST_METRICS),
        data={split: training_input(abalone.data_uri(place, split), content_type="libsvm")
              for split in ("train", "validation")},
        parameters={"HyperParameters": candidate["HyperParameters"]},
        result_selector={key: StepInput()[key] for key in (
            "TrainingJobName", "HyperParameters", "ModelArtifacts", "FinalMetricDataList")})
    candidates = Map(
        "Train candidates", iterator=train, items_path="$.Candidates",
        parameters={"JobName.$": "States.Format('{}-{}', $$.Execution.Input.JobName, "
                                 "$$.Map.Item.Index)",
                    "HyperParameters.$": "$$.Map.Item.Value.HyperParameters"})
    payload = StepInput()["Payload"]
    pick = LambdaStep(
        "Pick the best",
        parameters={"FunctionName": pick_function,
                    "Payload": {"Candidates": StepInput(), "MetricName": METRIC,
                                "Goal": "Minimize"}},
        result_selector={"MetricName": payload["MetricName"], "Best": payload["Best"],
                         "Losers": payload["Losers"]})
    save = ModelStep("Save the best model", result_path=None, model={
        "ExecutionRoleArn": place.sagemaker_role_arn, "ModelName": model_name,
        "PrimaryContainer": {"Image": image_uri,
                             "ModelDataUrl": StepInput()["Best"]["ModelDataUrl"]}})
    config = EndpointConfigStep("Create endpoint config", endpoint_config_name=model_name,
                                model_name=model_name, initial_instance_count=1,
                                instance_type=place.instance_type, result_path=None)
    exists = Task("Endpoint exists?", resource=DESCRIBE_ENDPOINT,
                  parameters={"EndpointName": endpoint}, result_path=None)
    update = EndpointStep("Update endpoint", endpoint_name=endpoint,
                          endpoint_config_name=model_name, update=True, result_path=None)
    create = EndpointStep("Create endpoint", endpoint_name=endpoint,
                          endpoint_config_name=model_name, result_path=None)
    exists.add_catch(Catch(error_equals=["States.TaskFailed"], next_step=create,
                           result_path="$.EndpointLookup"))
    catch_failures(failure_state(), candidates, pick, save, config, update, create)
    return Workflow(name, Chain([candidates, pick, save, config, exists, update]),
                    aws.local_role("sagepipe-workflows"), execution_input=execution_input)


def get_cloudformation_template() -> str:
    workflow = build(stack.PLACE, "${XGBoostImageUri}", "${PickBestFunctionArn}")
    return stack.template(workflow, "The experiments workflow (candidate trainings in "
                          "parallel, the best deployed by an endpoint update), "
                          "least-privileged",
                          stack.Stack((*stack.COMMON, abalone.IMAGE, functions.CODE_BUCKET,
                                       functions.CODE_KEY),
                                      functions={"PickBestFunctionArn": PICK.resource},
                                      resources=functions.resources(PICK)))


def main(argv: list[str] | None = None) -> int:
    p = aws.parser(__doc__.splitlines()[0], NAME)
    p.add_argument("--image-uri", default=aws.local_image("sagepipe-xgboost"),
                   help="the XGBoost image")
    p.add_argument("--lambda-role-arn", default=aws.local_role("sagepipe-workflows-lambda"),
                   help="role of the function this module deploys (not with "
                        "--state-machine-arn: the stack has its own)")
    p.add_argument("--endpoint-name", default="abalone-experiments",
                   help="endpoint to update with the best model (created the first time)")
    p.add_argument("--candidates", type=Path,
                   help='JSON file: [{"HyperParameters": {...}}, ...] (default: three depths, '
                        "learning rates and round counts)")
    p.add_argument("--job-name", help="base of the job names (default: experiment-<time>)")
    args = p.parse_args(argv)
    settings = aws.settings(args)
    job = args.job_name or aws.job_name("experiment")
    candidates = read_candidates(args.candidates) if args.candidates else CANDIDATES
    aws.check_image(aws.client("ecr", settings.region), args.image_uri,
                    abalone.XGBOOST_IMAGE_DIR)
    s3 = aws.client("s3", settings.region)
    aws.ensure_bucket(s3, settings.place.bucket, settings.region)
    abalone.upload_data(s3, settings.place)
    function = f"{settings.name}-{PICK.suffix}"
    if settings.state_machine_arn is None:
        arn = functions.deploy(aws.client("lambda", settings.region), PICK, function,
                               args.lambda_role_arn, functions.package())
        print(f"function {arn}")
    inputs = {"JobName": job, "ModelName": job, "EndpointName": args.endpoint_name,
              "Candidates": candidates}
    output = aws.run(build(settings.place, args.image_uri, function, settings.name), inputs,
                     settings, job)
    if output is not None:
        aws.wait_for_endpoint(aws.client("sagemaker", settings.region), args.endpoint_name)
        print(f"{args.endpoint_name} serves {describe(output['Best'])}")
        for loser in output["Losers"]:
            print(f"  beaten: {describe(loser)}")
    return 0


def read_candidates(path: Path) -> list[dict[str, Any]]:
    """The candidates of a JSON file, each with its HyperParameters as SageMaker takes them
    (strings: the Map passes them to CreateTrainingJob as they are)."""
    try:
        candidates = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"--candidates {path}: {error}") from None
    if not isinstance(candidates, list) or not candidates or not all(
            isinstance(c, dict) and isinstance(c.get("HyperParameters"), dict)
            for c in candidates):
        raise SystemExit(f'--candidates {path}: expected [{{"HyperParameters": {{...}}}}, ...]')
    return [{**c, "HyperParameters": {k: str(v) for k, v in c["HyperParameters"].items()}}
            for c in candidates]


def describe(candidate: dict[str, Any]) -> str:
    hyper = candidate["HyperParameters"]
    settings = ", ".join(f"{k}={hyper[k]}" for k in ("max_depth", "eta", "num_round")
                         if k in hyper)
    return f"{candidate['TrainingJobName']} ({settings}): {METRIC} {candidate['Metrics'][METRIC]}"


if __name__ == "__main__":
    sys.exit(main())
