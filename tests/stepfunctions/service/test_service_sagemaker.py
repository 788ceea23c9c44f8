"""State machines that train the example model for real, through the served Step Functions:
prepare with createProcessingJob.sync, train with createTrainingJob.sync, branch on the job's
validation accuracy (a numeric Choice), fan out with a Parallel and a Map, end in Succeed; a
failing job caught to a Fail state with its reason; an execution stopped mid-training, whose
training job stops too."""

from __future__ import annotations

import json

import pytest
from service_kit import (
    METRICS,
    create,
    details,
    history,
    training_pipeline,
    types,
    wait_for_event,
    wait_until_done,
)
from testkit import client_for, unique


@pytest.fixture(scope="module")
def pipeline(local_aws) -> str:
    return create(client_for(local_aws, "stepfunctions"), training_pipeline())


def start(sfn, pipeline: str, bucket: str, **hyperparameters: str) -> tuple[str, str]:
    name = unique("train")
    execution = sfn.start_execution(stateMachineArn=pipeline, input=json.dumps({
        "name": name, "bucket": bucket, "hyperparameters": hyperparameters}))["executionArn"]
    return execution, name


def test_trains_branches_on_the_metric_fans_out_and_succeeds(sfn, aws, prepared, pipeline):
    execution, name = start(sfn, pipeline, prepared, n_estimators="50", max_depth="6",
                            random_state="7")
    described = wait_until_done(sfn, execution)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["training"]["name"] == name and 0.6 <= output["training"]["accuracy"][0] <= 1
    model = aws("sagemaker").describe_model(ModelName=name)
    assert output["published"][0] == {"ModelArn": model["ModelArn"]}
    report = aws("s3").get_object(Bucket=prepared, Key=f"reports/{name}.json")
    assert json.loads(report["Body"].read()) == output["training"]["accuracy"]
    metrics = [m["MetricName"] for m in output["training"]["metrics"]]
    assert output["checked"] == [{"metric": m, "ok": True} for m in metrics]
    events = history(sfn, execution)
    kinds = types(events)
    assert sorted(metrics) == sorted(METRICS)
    assert kinds.count("MapIterationSucceeded") == len(METRICS)
    assert {"ChoiceStateEntered", "ParallelStateStarted", "ParallelStateSucceeded",
            "TaskSubmitted", "SucceedStateEntered"} <= set(kinds)
    trained = next(e for e in events if e["type"] == "TaskSucceeded")
    assert details(trained)["resource"] == "createTrainingJob.sync"
    assert json.loads(details(trained)["output"])["TrainingJobStatus"] == "Completed"


def test_a_failed_training_job_is_caught_to_a_fail_state_with_its_reason(sfn, prepared,
                                                                         pipeline):
    execution, name = start(sfn, pipeline, prepared, n_estimators="many")
    described = wait_until_done(sfn, execution)
    assert (described["status"], described["error"]) == ("FAILED", "States.TaskFailed")
    job = json.loads(described["cause"])
    assert (job["TrainingJobName"], job["TrainingJobStatus"]) == (name, "Failed")
    assert job["FailureReason"].startswith("hyperparameter n_estimators='many'")
    assert types(history(sfn, execution))[-3:] == ["TaskStateExited", "FailStateEntered",
                                                   "ExecutionFailed"]


def test_stopping_the_execution_stops_its_training_job(sfn, aws, prepared, pipeline):
    execution, name = start(sfn, pipeline, prepared, n_estimators="5000")
    wait_for_event(sfn, execution, "TaskSubmitted")
    sfn.stop_execution(executionArn=execution, error="Operator.Stop", cause="changed my mind")
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["cause"]) == ("ABORTED", "changed my mind")
    assert types(history(sfn, execution))[-2:] == ["TaskStateAborted", "ExecutionAborted"]
    sagemaker = aws("sagemaker")
    waiter = sagemaker.get_waiter("training_job_completed_or_stopped")
    waiter.wait(TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == \
        "Stopped"
