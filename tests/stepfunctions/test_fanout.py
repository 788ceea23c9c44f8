"""Parallel and Map: outputs in order, concurrency, failures, ItemSelector, ItemBatcher,
tolerated failures, and Retry/Catch on the whole state."""

from __future__ import annotations

import threading

import pytest
from asl_kit import LAMBDA, Script, echo, fails, machine, run, types


def branch(name: str, state: dict) -> dict:
    return {"StartAt": name, "States": {name: state}}


def task(**fields) -> dict:
    return {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}


def test_parallel_outputs_each_branch_in_order_from_its_parameters():
    definition = machine({"P": {"Type": "Parallel", "End": True,
                                "Parameters": {"v.$": "$.v"},
                                "ResultSelector": {"first.$": "$[0]", "both.$": "$[*].v"},
                                "Branches": [branch("A", {"Type": "Pass", "End": True}),
                                             branch("B", {"Type": "Pass", "Result": {"v": 2},
                                                          "End": True})]}})
    outcome, events = run(definition, {"v": 1, "other": 0})
    assert outcome.output == {"first": {"v": 1}, "both": [1, 2]}
    assert types(events)[2] == "ParallelStateStarted"
    assert types(events)[-3:] == ["ParallelStateSucceeded", "ParallelStateExited",
                                  "ExecutionSucceeded"]


def test_a_failing_branch_fails_the_parallel_with_its_error_and_is_caught():
    definition = machine({
        "P": {"Type": "Parallel", "Next": "Done",
              "Catch": [{"ErrorEquals": ["Boom"], "Next": "Handled", "ResultPath": "$.err"}],
              "Branches": [branch("A", task()), branch("B", {"Type": "Fail", "Error": "Boom",
                                                             "Cause": "b"})]},
        "Handled": {"Type": "Pass", "End": True}, "Done": {"Type": "Succeed"}})
    outcome, events = run(definition, {"x": 1}, runner=Script(echo))
    assert outcome.output == {"x": 1, "err": {"Error": "Boom", "Cause": "b"}}
    assert "ParallelStateFailed" in types(events)


def test_parallel_retry_runs_every_branch_again():
    runner = Script(fails("Flaky"), {"ok": 1})
    definition = machine({"P": {"Type": "Parallel", "End": True,
                                "Retry": [{"ErrorEquals": ["Flaky"]}],
                                "Branches": [branch("A", task())]}})
    outcome, events = run(definition, runner=runner)
    assert outcome.output == [{"ok": 1}]
    assert types(events).count("ParallelStateStarted") == 2


def items_map(**fields) -> dict:
    processor = fields.pop("processor", {"StartAt": "I", "States": {"I": {"Type": "Pass",
                                                                           "End": True}}})
    return machine({"M": {"Type": "Map", "End": True, "ItemProcessor": processor, **fields}})


def test_map_with_items_path_and_item_selector_and_context():
    outcome, events = run(items_map(ItemsPath="$.rows", ItemSelector={
        "index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value",
        "bucket.$": "$.bucket"}), {"rows": ["a", "b", "c"], "bucket": "bk"})
    assert outcome.output == [{"index": i, "value": v, "bucket": "bk"}
                              for i, v in enumerate("abc")]
    started = next(e for e in events if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 3}
    assert types(events).count("MapIterationSucceeded") == 3


def test_legacy_iterator_and_parameters():
    definition = machine({"M": {"Type": "Map", "End": True, "Parameters": {
        "v.$": "$$.Map.Item.Value"}, "Iterator": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "End": True}}}}})
    assert run(definition, [1, 2])[0].output == [{"v": 1}, {"v": 2}]


@pytest.mark.parametrize(("fields", "most", "count"), [({"MaxConcurrency": 2}, 2, 4),
                                                       ({"MaxConcurrencyPath": "$.limit"}, 3, 6),
                                                       ({}, 12, 12)])
def test_map_runs_max_concurrency_iterations_at_once(fields, most, count):
    """Each task waits until `most` run together: fewer at once would never get there. With a
    limit, more than `most` at once would break it; without one (AWS's 40), all `count` run
    together, so `count` is `most` (with more items than that, how many overlap while one round
    leaves the barrier would depend on the threads' timing)."""
    lock, running, peak = threading.Lock(), [0], [0]
    together = threading.Barrier(most, timeout=10)

    def work(request):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        together.wait()
        with lock:
            running[0] -= 1
        return request.parameters

    outcome, _ = run(items_map(processor={"StartAt": "T", "States": {"T": task()}},
                               ItemsPath="$.items", **fields),
                     {"items": list(range(count)), "limit": 3}, runner=Script(work))
    assert outcome.status == "SUCCEEDED", outcome
    assert peak[0] == most


def test_a_failing_iteration_fails_the_map_with_its_error():
    runner = Script(lambda r: (_ for _ in ()).throw(fails("BadRow", str(r.parameters)))
                    if r.parameters == 2 else r.parameters)
    outcome, events = run(items_map(processor={"StartAt": "T", "States": {"T": task()}},
                                    MaxConcurrency=1), [1, 2, 3], runner=runner)
    assert (outcome.error, outcome.cause) == ("BadRow", "2")
    assert "MapIterationFailed" in types(events) and "MapStateFailed" in types(events)
    assert [r.parameters for r in runner.requests] == [1, 2]  # the third never started


def test_item_batcher_groups_items_with_batch_input():
    outcome, _ = run(items_map(ItemBatcher={"MaxItemsPerBatch": 2,
                                            "BatchInput": {"job.$": "$.job"}},
                               ItemsPath="$.items"), {"items": [1, 2, 3], "job": "j"})
    assert outcome.output == [{"Items": [1, 2], "BatchInput": {"job": "j"}},
                              {"Items": [3], "BatchInput": {"job": "j"}}]


def test_item_batcher_by_bytes():
    # '["aaa","bbb"]' is 13 bytes; adding "c" would make it 17.
    outcome, _ = run(items_map(ItemBatcher={"MaxInputBytesPerBatch": 13}), ["aaa", "bbb", "c"])
    assert outcome.output == [{"Items": ["aaa", "bbb"]}, {"Items": ["c"]}]


def failing_every_odd(request):
    if request.parameters % 2:
        raise fails("Odd")
    return request.parameters


@pytest.mark.parametrize(("tolerance", "status"), [({"ToleratedFailureCount": 2}, "SUCCEEDED"),
                                                   ({"ToleratedFailureCount": 1}, "FAILED"),
                                                   ({"ToleratedFailurePercentage": 50},
                                                    "SUCCEEDED"),
                                                   ({"ToleratedFailurePercentage": 49},
                                                    "FAILED")])
def test_tolerated_failures(tolerance, status):
    outcome, _ = run(items_map(processor={"StartAt": "T", "States": {"T": task()}},
                               **tolerance), [0, 1, 2, 3], runner=Script(failing_every_odd))
    assert outcome.status == status
    if status == "FAILED":
        assert outcome.error == "States.ExceedToleratedFailureThreshold"
    else:
        assert outcome.output == [0, {"Error": "Odd", "Cause": ""}, 2,
                                  {"Error": "Odd", "Cause": ""}]


def test_items_path_must_select_an_array():
    outcome, _ = run(items_map(ItemsPath="$.rows"), {"rows": {"not": "a list"}})
    assert outcome.error == "States.Runtime" and "must be a JSON array" in outcome.cause


def test_item_reader_is_refused_at_run_time_with_a_clear_message():
    outcome, _ = run(items_map(ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                                           "Parameters": {"Bucket": "b", "Key": "k"}}))
    assert outcome.error == "States.ItemReaderFailed" and "not emulated" in outcome.cause


def test_a_map_over_no_items_outputs_an_empty_list():
    assert run(items_map(), [])[0].output == []
