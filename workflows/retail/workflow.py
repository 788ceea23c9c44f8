"""The retail workflow, as its seed meant it (the seed compared the RMSE as a string, with the
comparison inverted, and read whichever metric came first):

    Preparing data (Lambda) -> Training (SageMaker) -> Save model (SageMaker)
    -> Validating RMSE (Lambda) -> RMSE under threshold? -> Batch inference (SageMaker)
                                                         `-> Model too weak (Fail)

- The preparation Lambda (workflows/lambdas/prepare_retail_data.py) turns raw Online Retail
  rows into XGBoost's CSV channels; it is retried on States.TaskFailed (15 s, 2 attempts,
  backoff 4), as in the seed.
- The check Lambda (check_metric.py) finds `validation:rmse` BY NAME in the job's
  FinalMetricDataList and returns it with the threshold, both numbers.
- The Choice compares them numerically (NumericLessThanEqualsPath); above the threshold the
  execution fails with both values in its cause.

ExecutionInput {JobName, ModelName, RawData, RmseThreshold}: RawData is the S3 URI of the raw
CSV; RmseThreshold a number. Every task failure ends in "ML Workflow failed".

    python -m workflows.retail [--rmse-threshold 1.0] [--image-uri URI] ...
"""

from __future__ import annotations

from typing import Any

from ds_stepfunctions.inputs import ExecutionInput, Format, StepInput
from ds_stepfunctions.steps import (
    Chain,
    Choice,
    ChoiceRule,
    Fail,
    LambdaStep,
    ModelStep,
    Retry,
    TrainingStep,
    TransformStep,
    training_input,
)
from ds_stepfunctions.workflow import Workflow
from workflows import aws, functions, stack
from workflows.abalone import IMAGE, XGBOOST_IMAGE_DIR
from workflows.retail.data import generate, to_csv
from workflows.states import (
    XGBOOST_METRICS,
    catch_failures,
    failure_state,
    training_request,
    transform_resources,
)

NAME = "sagepipe-retail"
METRIC = "validation:rmse"
DEFAULT_THRESHOLD = 1.0  # UnitPrice in pounds; the generated prices spread ~3.8 around their mean
HYPERPARAMETERS = {"objective": "reg:squarederror", "num_round": 100, "max_depth": 6,
                   "eta": 0.3, "subsample": 0.9, "seed": 0}
S3_DATA = {"Sid": "ReadRawWritePrepared", "Effect": "Allow",
           "Action": ["s3:GetObject", "s3:PutObject"],
           "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}/retail/*"}}
PREPARE = functions.Function(
    "PrepareDataFunction", "prepare-data", "prepare_retail_data.handler",
    "Retail workflow: raw Online Retail rows to XGBoost CSV channels", timeout=300,
    memory=1024, statements=(S3_DATA,))
CHECK = functions.Function(
    "CheckMetricFunction", "check-metric", "check_metric.handler",
    "Retail workflow: a training job's metric, by name, and the threshold",
    statements=({"Sid": "ReadTrainingJobs", "Effect": "Allow",
                 "Action": "sagemaker:DescribeTrainingJob",
                 "Resource": stack.arn("sagemaker", "training-job/*")},))
RETRY = {"error_equals": ["States.TaskFailed"], "interval_seconds": 15, "max_attempts": 2,
         "backoff_rate": 4.0}


def build(place: aws.Place, image_uri: str, prepare_function: str, check_function: str,
          name: str = NAME) -> Workflow:
    execution_input = ExecutionInput(schema={"JobName": str, "ModelName": str, "RawData": str,
                                             "RmseThreshold": float})
    job = execution_input["JobName"]
    payload, data, check = StepInput()["Payload"], StepInput()["Data"], StepInput()["Check"]
    prepare = LambdaStep(
        "Preparing data (Lambda)",
        parameters={"FunctionName": prepare_function,
                    "Payload": {"RawData": execution_input["RawData"],
                                "Output": Format(place.uri("retail", "{}", "prepared"), job)}},
        result_selector={"Train": payload["Train"], "Validation": payload["Validation"],
                         "Test": payload["Test"], "Rows": payload["Rows"]},
        result_path="$.Data")
    train = TrainingStep(
        "Training (SageMaker)", job_name=job, hyperparameters=HYPERPARAMETERS,
        estimator=training_request(image_uri, place.sagemaker_role_arn,
                                   place.uri("retail", "models"), place.instance_type,
                                   XGBOOST_METRICS),
        data={"train": training_input(data["Train"], content_type="text/csv"),
              "validation": training_input(data["Validation"], content_type="text/csv")},
        result_selector={"ModelDataUrl": StepInput()["ModelArtifacts"]["S3ModelArtifacts"]},
        result_path="$.Training")
    save = ModelStep("Save model (SageMaker)", model={
        "ExecutionRoleArn": place.sagemaker_role_arn,
        "ModelName": execution_input["ModelName"],
        "PrimaryContainer": {"Image": image_uri,
                             "ModelDataUrl": StepInput()["Training"]["ModelDataUrl"]}},
        result_path=None)
    validate = LambdaStep(
        "Validating RMSE (Lambda)",
        parameters={"FunctionName": check_function,
                    "Payload": {"TrainingJobName": job, "MetricName": METRIC,
                                "Threshold": execution_input["RmseThreshold"]}},
        result_selector={"TrainingJobName": payload["TrainingJobName"],
                         "MetricName": payload["MetricName"], "Value": payload["Value"],
                         "Threshold": payload["Threshold"]},
        result_path="$.Check")
    inference = TransformStep(
        "Batch inference (SageMaker)",
        transformer=transform_resources(Format(place.uri("retail", "{}", "predictions"), job),
                                        place.instance_type),
        job_name=job, model_name=execution_input["ModelName"], data=data["Test"],
        content_type="text/csv", split_type="Line", result_path="$.Inference",
        result_selector={"Predictions": StepInput()["TransformOutput"]["S3OutputPath"]})
    too_weak = Fail("Model too weak", error="ModelTooWeak", cause=Format(
        "{} of training job {} is {}, above the threshold {}", check["MetricName"],
        check["TrainingJobName"], check["Value"], check["Threshold"]))
    gate = Choice("RMSE under threshold?")
    # Numbers on both sides: the Lambda parsed the threshold, whatever form the input gave it.
    gate.add_choice(ChoiceRule.NumericLessThanEqualsPath(variable=check["Value"],
                                                         value=check["Threshold"]),
                    next_step=inference)
    gate.default_choice(too_weak)
    for step in (prepare, validate):
        step.add_retry(Retry(**RETRY))
    catch_failures(failure_state(), prepare, train, save, validate, inference)
    return Workflow(name, Chain([prepare, train, save, validate, gate]),
                    aws.local_role("sagepipe-workflows"), execution_input=execution_input)


def get_cloudformation_template() -> str:
    workflow = build(stack.PLACE, "${XGBoostImageUri}", "${PrepareDataFunctionArn}",
                     "${CheckMetricFunctionArn}")
    resources = {**functions.resources(PREPARE), **functions.resources(CHECK)}
    return stack.template(workflow, "The retail workflow (Lambda preparation, XGBoost "
                          "training, a numeric RMSE gate, batch inference), least-privileged",
                          stack.Stack((*stack.COMMON, IMAGE, functions.CODE_BUCKET,
                                       functions.CODE_KEY),
                                      functions={"PrepareDataFunctionArn": PREPARE.resource,
                                                 "CheckMetricFunctionArn": CHECK.resource},
                                      resources=resources))


def main(argv: list[str] | None = None) -> int:
    p = aws.parser(__doc__.splitlines()[0], NAME)
    p.add_argument("--image-uri", default=aws.local_image("sagepipe-xgboost"),
                   help="the XGBoost image")
    p.add_argument("--lambda-role-arn", default=aws.local_role("sagepipe-workflows-lambda"),
                   help="role of the two functions this module deploys (not with "
                        "--state-machine-arn: the stack has its own)")
    p.add_argument("--rmse-threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"largest {METRIC} that goes on to batch inference")
    p.add_argument("--invoices", type=int, default=800, help="invoices to generate")
    p.add_argument("--seed", type=int, default=7, help="seed of the data generator")
    p.add_argument("--job-name", help="training/transform job name (default: retail-<time>)")
    args = p.parse_args(argv)
    settings = aws.settings(args)
    job = args.job_name or aws.job_name("retail")
    aws.check_image(aws.client("ecr", settings.region), args.image_uri, XGBOOST_IMAGE_DIR)
    s3 = aws.client("s3", settings.region)
    aws.ensure_bucket(s3, settings.place.bucket, settings.region)
    raw = aws.put(s3, settings.place.uri("retail", "raw", f"{job}.csv"),
                  to_csv(generate(args.invoices, args.seed)))
    names = deploy_functions(settings, args.lambda_role_arn)
    inputs = {"JobName": job, "ModelName": job, "RawData": raw,
              "RmseThreshold": args.rmse_threshold}
    output = aws.run(build(settings.place, args.image_uri, *names, settings.name), inputs,
                     settings, job)
    if output is not None:
        check: dict[str, Any] = output["Check"]
        print(f"{check['MetricName']} {check['Value']} <= {check['Threshold']}: predictions "
              f"for {output['Data']['Rows']['test']} rows in {output['Inference']['Predictions']}")
    return 0


def deploy_functions(settings: aws.Settings, role_arn: str) -> tuple[str, str]:
    """The two functions' names, deployed unless the stack's state machine is used."""
    names = (f"{settings.name}-{PREPARE.suffix}", f"{settings.name}-{CHECK.suffix}")
    if settings.state_machine_arn is None:
        lam, code = aws.client("lambda", settings.region), functions.package()
        for function, name in zip((PREPARE, CHECK), names, strict=True):
            print(f"function {functions.deploy(lam, function, name, role_arn, code)}")
    return names
