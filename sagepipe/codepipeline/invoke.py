"""The Step Functions invoke action (category Invoke, provider StepFunctions): StartExecution of
the action's state machine with its input (a literal, or a file of its input artifact), then
DescribeExecution until it ends; the execution's ARN and the machine's are its output
variables, and a failed execution fails the action with the state's error and cause."""

from __future__ import annotations

import uuid

from botocore.exceptions import BotoCoreError, ClientError

from sagepipe.codepipeline.actions import (
    Abandoned,
    ActionFailed,
    ActionResult,
    ActionRun,
    aws_reason,
)


def step_functions(run: ActionRun) -> ActionResult:
    config, sfn = run.config, run.client("stepfunctions")
    machine = config["StateMachineArn"]
    if config.get("InputType", "Literal") == "FilePath":
        if not run.action.inputs:
            raise ActionFailed("InputType FilePath reads the input from the action's input "
                               "artifact, and the action has none")
        text = run.input_file(f"{run.action.inputs[0]}::{config.get('Input', '')}").decode()
    else:
        text = config.get("Input") or "{}"
    name = "-".join(filter(None, [config.get("ExecutionNamePrefix"), run.execution_id]))[:80]
    try:
        try:
            execution_arn = sfn.start_execution(stateMachineArn=machine, input=text,
                                                name=name)["executionArn"]
        except sfn.exceptions.ExecutionAlreadyExists:  # a retried stage: a name of its own
            execution_arn = sfn.start_execution(stateMachineArn=machine, input=text, name=(
                f"{name[:71]}-{uuid.uuid4().hex[:8]}"))["executionArn"]
        run.record(externalExecutionId=execution_arn)
        try:
            while (execution := sfn.describe_execution(executionArn=execution_arn))[
                    "status"] in ("RUNNING", "PENDING_REDRIVE"):
                run.sleep()
        except Abandoned:
            sfn.stop_execution(executionArn=execution_arn, cause="pipeline execution stopped")
            raise
    except (ClientError, BotoCoreError) as exc:
        raise ActionFailed(f"Step Functions: {aws_reason(exc)}") from None
    if execution["status"] != "SUCCEEDED":
        raise ActionFailed(f"Execution {execution_arn} {execution['status']}: "
                           f"{execution.get('error', '')}: {execution.get('cause', '')}")
    return ActionResult(variables={"StateMachineArn": machine, "ExecutionArn": execution_arn},
                        summary=f"Execution {execution_arn} SUCCEEDED")
