"""Lambda: the best of several training jobs by one metric, and how the others did.

Event: {"Candidates": [<DescribeTrainingJob response, or the part of it with TrainingJobName,
HyperParameters, ModelArtifacts and FinalMetricDataList>, ...],
"MetricName": "validation:rmse", "Goal": "Minimize" | "Maximize"}
Result: {"MetricName", "Goal", "Best": <candidate>, "Losers": [<candidate>, ... best first]},
each candidate as {"TrainingJobName", "HyperParameters", "ModelDataUrl", "Metrics": {...}}.
A tie goes to the earlier candidate.
"""

from __future__ import annotations

from typing import Any

from metrics import final_metrics, metric_value

GOALS = ("Minimize", "Maximize")


def summary(job: dict[str, Any]) -> dict[str, Any]:
    return {"TrainingJobName": job["TrainingJobName"],
            "HyperParameters": job.get("HyperParameters", {}),
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
            "Metrics": final_metrics(job)}


def pick(event: dict[str, Any]) -> dict[str, Any]:
    candidates = event.get("Candidates")
    if not isinstance(candidates, list) or not candidates:
        raise ValueError("the event needs Candidates, a non-empty list of training jobs")
    name = event.get("MetricName", "validation:rmse")
    goal = event.get("Goal", "Minimize")
    if goal not in GOALS:
        raise ValueError(f"Goal must be one of {', '.join(GOALS)}, not {goal!r}")
    ranked = sorted(candidates, key=lambda job: metric_value(job, name),
                    reverse=goal == "Maximize")
    return {"MetricName": name, "Goal": goal, "Best": summary(ranked[0]),
            "Losers": [summary(job) for job in ranked[1:]]}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return pick(event)
