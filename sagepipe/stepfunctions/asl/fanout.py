"""Parallel and Map: branches and iterations in threads, each with its own history trace and a
child cancellation, so that a stop reaches all of them and (unless a Map tolerates failures)
the first failure cancels the rest. The state fails with the failing branch's own error, which
its Retry and Catch then handle, as in AWS.

Inline Map runs at most 40 iterations at once (AWS's limit; MaxConcurrency lowers it). A
DISTRIBUTED Map runs the same way, inline; ItemReader and ResultWriter (S3) are not emulated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sagepipe.stepfunctions.asl.control import SIBLING_FAILED
from sagepipe.stepfunctions.asl.errors import (
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    ITEM_READER_FAILED,
    RUNTIME,
    Aborted,
    DataFlowError,
    PathNotFound,
    StatesError,
)
from sagepipe.stepfunctions.asl.history import Trace
from sagepipe.stepfunctions.asl.interpreter import Frame, Visit
from sagepipe.stepfunctions.asl.machine import Batcher
from sagepipe.stepfunctions.asl.paths import Path
from sagepipe.stepfunctions.asl.payload import select, to_json
from sagepipe.stepfunctions.asl.recovery import recovering, with_retries
from sagepipe.stepfunctions.asl.states import effective_input, finish, resolve_number

INLINE_MAP_CONCURRENCY = 40
Job = Callable[[int, Frame], Any]


@dataclass
class Fanout:
    """What `run_all` ran: each job's (result, error) by index (None: never ran, or aborted),
    and the failures in the order they happened (the first is the one a state reports)."""

    results: list[tuple[Any, StatesError | None] | None]
    failures: list[StatesError]

    def completed(self) -> list[tuple[Any, StatesError | None]]:
        """Every job's (result, error): only once none was left unrun."""
        done = [result for result in self.results if result is not None]
        assert len(done) == len(self.results), "a job never ran"
        return done


def run_all(visit: Visit, count: int, job: Job, limit: int, fail_fast: bool) -> Fanout:
    """Run `job(i, frame)` for i in range(count), at most `limit` at once."""
    group = visit.frame.cancel.child()
    start, lock = visit.frame.trace.last, threading.Lock()
    results: list[Any] = [None] * count
    failures: list[BaseException] = []
    lasts: list[int] = []

    def one(index: int) -> None:
        if group.cancelled:
            return
        frame = Frame(Trace(start), group.child())
        try:
            results[index] = (job(index, frame), None)
        except StatesError as error:
            results[index] = (None, error)
            with lock:
                failures.append(error)
            if fail_fast:
                group.cancel(SIBLING_FAILED)
        except Aborted:
            pass
        except Exception as error:  # an engine defect: surfaced in the calling thread
            with lock:
                failures.append(error)
            group.cancel(SIBLING_FAILED)
        finally:
            frame.cancel.release()
            with lock:
                lasts.append(frame.trace.last)

    try:
        if count <= 1 or limit == 1:
            for index in range(count):
                one(index)
        else:
            with ThreadPoolExecutor(max_workers=min(limit, count),
                                    thread_name_prefix="sfn-branch") as pool:
                list(pool.map(one, range(count)))
    finally:
        group.release()
        visit.frame.trace.last = max(lasts, default=start)
    visit.frame.cancel.check()
    defects = [error for error in failures if not isinstance(error, StatesError)]
    if defects:
        raise defects[0]
    return Fanout(results, [error for error in failures if isinstance(error, StatesError)])


def parallel_state(visit: Visit, data: Any) -> tuple[Any, str | None]:
    state, interpreter = visit.state, visit.interpreter

    def attempt(retry_count: int) -> list[Any]:
        branch_input = effective_input(visit, data, visit.context(retry_count))
        visit.emit("ParallelStateStarted")
        fanout = run_all(visit, len(state.branches), lambda i, frame: interpreter.run_scope(
            state.branches[i], branch_input, frame), len(state.branches), fail_fast=True)
        if fanout.failures:
            visit.emit("ParallelStateFailed")
            raise fanout.failures[0]
        visit.emit("ParallelStateSucceeded")
        return [value for value, _ in fanout.completed()]

    def work() -> tuple[Any, str | None]:
        result = with_retries(visit, attempt)
        return finish(visit, data, result, visit.context()), state.next
    return recovering(visit, data, work)


def map_state(visit: Visit, data: Any) -> tuple[Any, str | None]:
    def work() -> tuple[Any, str | None]:
        result = with_retries(visit, lambda count: _map_attempt(visit, data, count))
        return finish(visit, data, result, visit.context()), visit.state.next
    return recovering(visit, data, work)


def _map_attempt(visit: Visit, data: Any, retry_count: int) -> list[Any]:
    state, interpreter = visit.state, visit.interpreter
    context = visit.context(retry_count)
    effective = select(state.input_path, data, context, "InputPath")
    if state.item_reader is not None:
        raise StatesError(ITEM_READER_FAILED, "ItemReader (items read from S3) is not emulated "
                          "by the local Step Functions; pass the items in the state input")
    if state.result_writer is not None:
        raise StatesError(RUNTIME, "ResultWriter (results written to S3) is not emulated by "
                          "the local Step Functions")
    inputs = _iteration_inputs(visit, effective, context)
    visit.emit("MapStateStarted", {"length": len(inputs)})
    limit = state.max_concurrency if isinstance(state.max_concurrency, int) else \
        resolve_number(state.max_concurrency, effective, context, "MaxConcurrencyPath")
    tolerant = state.tolerated_count is not None or state.tolerated_percentage is not None

    def iteration(index: int, frame: Frame) -> Any:
        details = {"name": state.name, "index": index}
        interpreter.history.emit(frame.trace, "MapIterationStarted", details)
        try:
            output = interpreter.run_scope(state.branches[0], inputs[index], frame)
        except StatesError:
            interpreter.history.emit(frame.trace, "MapIterationFailed", details)
            raise
        except Aborted:
            interpreter.history.emit(frame.trace, "MapIterationAborted", details)
            raise
        interpreter.history.emit(frame.trace, "MapIterationSucceeded", details)
        return output

    fanout = run_all(visit, len(inputs), iteration,
                     min(limit or INLINE_MAP_CONCURRENCY, INLINE_MAP_CONCURRENCY),
                     fail_fast=not tolerant)
    failed = len(fanout.failures)
    if failed and (not tolerant or _exceeds_tolerance(visit, failed, len(inputs), effective,
                                                      context)):
        visit.emit("MapStateFailed")
        if tolerant:
            raise StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD, f"{failed} of {len(inputs)} "
                              "iterations failed, more than the Map tolerates")
        raise fanout.failures[0]
    visit.emit("MapStateSucceeded")
    # A tolerated failure leaves the iteration's error output in its place.
    return [error.output if error else value for value, error in fanout.completed()]


def _iteration_inputs(visit: Visit, effective: Any, context: dict) -> list[Any]:
    state = visit.state
    try:
        items = state.items_path.find(effective, context)
    except PathNotFound:
        raise DataFlowError(f"Invalid path '{state.items_path.text}' for the field 'ItemsPath': "
                            "it selects nothing in the input") from None
    if not isinstance(items, list):
        raise DataFlowError(f"The value at ItemsPath '{state.items_path.text}' must be a JSON "
                            f"array, not {to_json(items)[:200]}")
    if state.item_selector:
        items = [state.item_selector.render(effective, {**context, "Map": {
            "Item": {"Index": index, "Value": item}}}) for index, item in enumerate(items)]
    return _batches(state.batcher, items, effective, context) if state.batcher else items


def _batches(batcher: Batcher, items: list[Any], effective: Any, context: dict) -> list[Any]:
    """ItemBatcher: items grouped by MaxItemsPerBatch and MaxInputBytesPerBatch."""
    max_items, max_bytes = (
        resolve_number(v, effective, context, field, 1) if isinstance(v, Path) else v
        for v, field in ((batcher.max_items, "MaxItemsPerBatchPath"),
                         (batcher.max_bytes, "MaxInputBytesPerBatchPath")))
    extra = {"BatchInput": batcher.batch_input.render(effective, context)} \
        if batcher.batch_input else {}
    batches: list[list[Any]] = []
    for item in items:
        current = batches[-1] if batches else None
        if current is None or (max_items and len(current) >= max_items) or \
                (max_bytes and len(to_json([*current, item]).encode()) > max_bytes):
            batches.append([item])
        else:
            current.append(item)
    return [{"Items": batch, **extra} for batch in batches]


def _exceeds_tolerance(visit: Visit, failed: int, total: int, effective: Any,
                       context: dict) -> bool:
    state = visit.state
    count, percentage = (
        resolve_number(v, effective, context, field, 0, integer=False) if isinstance(v, Path)
        else v for v, field in ((state.tolerated_count, "ToleratedFailureCountPath"),
                                (state.tolerated_percentage, "ToleratedFailurePercentagePath")))
    return (count is not None and failed > count) or \
        (percentage is not None and failed * 100 > percentage * total)
