"""Retry and Catch, for the states that have them (Task, Parallel, Map).

Retriers are scanned in order and the first whose ErrorEquals matches decides: it retries
while its own count is below MaxAttempts (its count lasts for the whole visit of the state,
so two retriers interleave as AWS describes), after IntervalSeconds x BackoffRate^count,
capped by MaxDelaySeconds, randomised over [0, delay] with JitterStrategy FULL. Once no
retrier retries, the first matching catcher routes the error output to its Next.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sagepipe.stepfunctions.asl.errors import StatesError, error_matches
from sagepipe.stepfunctions.asl.interpreter import Visit
from sagepipe.stepfunctions.asl.machine import Retrier
from sagepipe.stepfunctions.asl.payload import merge_result


def retry_delay(retrier: Retrier, count: int) -> float:
    """Seconds before the retry that follows `count` earlier retries by this retrier."""
    delay = retrier.interval_seconds * retrier.backoff_rate ** count
    if retrier.max_delay_seconds is not None:
        delay = min(delay, retrier.max_delay_seconds)
    if retrier.jitter == "FULL":
        delay = random.uniform(0, delay)  # noqa: S311 - spreading retries, not security
    return delay


def with_retries(visit: Visit, attempt: Callable[[int], Any]) -> Any:
    """`attempt(retry_count)`'s result, retried as the state's Retry field says."""
    retriers = visit.state.retriers
    counts = [0] * len(retriers)
    while True:
        try:
            return attempt(sum(counts))
        except StatesError as error:
            index = next((i for i, r in enumerate(retriers)
                          if error_matches(r.error_equals, error.error)), None)
            if index is None or counts[index] >= retriers[index].max_attempts:
                raise
            delay = retry_delay(retriers[index], counts[index])
            counts[index] += 1
            visit.interpreter.clock.sleep(delay, visit.frame.cancel)


def recovering(visit: Visit, data: Any,
               work: Callable[[], tuple[Any, str | None]]) -> tuple[Any, str | None]:
    """`work()`, or, when it fails with an error a catcher handles, the catcher's route:
    the error output placed in the state input by the catcher's ResultPath."""
    try:
        return work()
    except StatesError as error:
        for catcher in visit.state.catchers:
            if error_matches(catcher.error_equals, error.error):
                return merge_result(catcher.result_path, data, error.output), catcher.next
        raise
