"""Lambda: a training job's metric, found by name, next to the threshold it must meet.

Event: {"TrainingJobName": ..., "MetricName": "validation:rmse", "Threshold": 2.5}
Result: {"TrainingJobName", "MetricName", "Value": <float>, "Threshold": <float>}

It does not decide: the state machine's Choice compares Value with the threshold as numbers,
so the rule is visible in the graph. (The retail seed's check compared strings, inverted, and
read FinalMetricDataList[0] whatever metric that was.)
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from metrics import metric_value, number


class TrainingNotCompleted(Exception):
    """The job has no final metrics yet (or never will)."""


@cache
def _sagemaker() -> Any:
    return boto3.client("sagemaker")


def check(event: dict[str, Any], sagemaker: Any) -> dict[str, Any]:
    for key in ("TrainingJobName", "MetricName", "Threshold"):
        if key not in event:
            raise ValueError(f"the event lacks {key!r}; it takes TrainingJobName, MetricName "
                             "and Threshold")
    threshold = number(event["Threshold"], "Threshold")
    job = sagemaker.describe_training_job(TrainingJobName=event["TrainingJobName"])
    if job["TrainingJobStatus"] != "Completed":
        raise TrainingNotCompleted(f"training job {job['TrainingJobName']} is "
                                   f"{job['TrainingJobStatus']}, not Completed: "
                                   f"{job.get('FailureReason', 'no final metrics yet')}")
    return {"TrainingJobName": job["TrainingJobName"], "MetricName": event["MetricName"],
            "Value": metric_value(job, event["MetricName"]), "Threshold": threshold}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return check(event, _sagemaker())
