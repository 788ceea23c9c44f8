"""The endpoint answers every call, fast enough: p95 over the stage's N invocations."""

from __future__ import annotations

import contextlib

from botocore.exceptions import BotoCoreError, ClientError

# One passenger per call, cycling through the kinds of input (a missing Age included).
PASSENGERS = [{"Pclass": 1, "Sex": "female", "Age": 29}, {"Pclass": 3, "Sex": "male", "Age": None},
              {"Pclass": 2, "Sex": "male", "Age": 4}, {"Pclass": 3, "Sex": "female", "Age": 61.5}]


def test_p95_latency_within_budget_without_errors(runtime, endpoint, gate, metrics):
    errors_before, timed_before = len(metrics.errors), len(metrics.latencies_ms)
    for call in range(gate.invocations):
        with contextlib.suppress(BotoCoreError, ClientError):  # counted by metrics.invoke
            metrics.invoke(runtime, endpoint, [PASSENGERS[call % len(PASSENGERS)]])
    failed = metrics.errors[errors_before:]
    assert not failed, f"{len(failed)} of {gate.invocations} invocations failed, first: {failed[0]}"
    assert len(metrics.latencies_ms) - timed_before == gate.invocations
    p95 = metrics.p95_ms()
    assert p95 <= gate.latency_p95_ms, (
        f"p95 latency {p95:.0f} ms over {len(metrics.latencies_ms)} invocations is over the "
        f"{gate.stage} budget of {gate.latency_p95_ms:.0f} ms")
