"""Reading a training job's final metrics by name (never by position: SageMaker lists them in
the order of the MetricDefinitions, and another definition shifts them)."""

from __future__ import annotations

from typing import Any


class MetricNotFound(Exception):
    """The training job did not report the metric asked for."""


def final_metrics(job: dict[str, Any]) -> dict[str, float]:
    """{name: value} of a DescribeTrainingJob response's FinalMetricDataList."""
    return {m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList", [])}


def metric_value(job: dict[str, Any], name: str) -> float:
    metrics = final_metrics(job)
    if name not in metrics:
        reported = ", ".join(sorted(metrics)) or (
            "no metric at all (does its AlgorithmSpecification have MetricDefinitions, and "
            "does the image print them?)")
        raise MetricNotFound(f"training job {job.get('TrainingJobName', '?')} reported no "
                             f"{name!r}; it reported {reported}")
    return metrics[name]


def number(value: Any, what: str) -> float:
    """A finite number given as a JSON number or its text ("1.5" from a console input)."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, not {value!r}") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    return result
