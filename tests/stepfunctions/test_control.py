"""Execution control: background runs, stop at any point (waits, retries, running tasks,
branches), the execution's TimeoutSeconds, and an engine defect that still ends the run."""

from __future__ import annotations

import json

from asl_kit import (
    LAMBDA,
    Script,
    block_until_cancelled,
    details,
    echo,
    fails,
    info,
    machine,
    start,
    types,
    wait_for,
)

from sagepipe.stepfunctions.asl import Execution, Outcome, parse_definition


def test_stop_in_the_middle_of_a_long_wait_ends_it_at_once():
    execution, events = start(machine({"W": {"Type": "Wait", "Seconds": 3600, "Next": "After"},
                                       "After": {"Type": "Succeed"}}))
    wait_for(lambda: "WaitStateEntered" in types(events), "the wait to begin")
    execution.stop("Operator.Stop", "no longer needed")
    outcome = execution.wait(10)
    assert outcome == Outcome("ABORTED", error="Operator.Stop", cause="no longer needed")
    assert types(events)[-2:] == ["WaitStateAborted", "ExecutionAborted"]
    assert details(events[-1]) == {"error": "Operator.Stop", "cause": "no longer needed"}
    assert not execution.running


def test_stop_during_a_retry_interval():
    runner = Script(fails("Flaky"))
    execution, events = start(machine({"T": {
        "Type": "Task", "Resource": LAMBDA, "End": True,
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 3600}]}}), runner=runner)
    wait_for(lambda: "TaskFailed" in types(events), "the first attempt to fail")
    execution.stop()
    assert execution.wait(10).status == "ABORTED"
    assert len(runner.requests) == 1
    assert types(events)[-2:] == ["TaskStateAborted", "ExecutionAborted"]


def test_stop_reaches_a_running_task_through_its_cancellation_event():
    runner = Script(block_until_cancelled)
    execution, events = start(machine({"T": {"Type": "Task", "Resource": LAMBDA,
                                             "End": True}}), runner=runner)
    wait_for(lambda: runner.requests, "the task to start")
    execution.stop()
    assert execution.wait(10).status == "ABORTED"
    assert runner.requests[0].cancelled.is_set()
    assert types(events)[-3:] == ["TaskStarted", "TaskStateAborted", "ExecutionAborted"]


def ends_as_stopped(request) -> None:
    """A .sync job's task: once stopped, its job reports Stopped, which is a task failure."""
    if not request.cancelled.wait(30):
        raise AssertionError("the task was never cancelled")
    raise fails("States.TaskFailed", '{"TrainingJobStatus": "Stopped"}')


def test_a_task_that_fails_because_it_was_stopped_still_ends_the_execution_aborted():
    # StopExecution is final: the failure the stop itself causes (often in the same instant)
    # is neither caught nor the execution's end. Repeated, as the two race.
    for _ in range(20):
        runner = Script(ends_as_stopped)
        execution, events = start(machine({
            "T": {"Type": "Task", "Resource": LAMBDA, "End": True,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]},
            "Failed": {"Type": "Fail", "Error": "Training.Failed"}}), runner=runner)
        wait_for(lambda started=runner.requests: started, "the task to start")
        execution.stop("User.Stop", "stopped")
        assert execution.wait(10) == Outcome("ABORTED", error="User.Stop", cause="stopped")
        assert types(events)[-2:] == ["TaskStateAborted", "ExecutionAborted"]


def test_stop_reaches_every_branch_and_iteration():
    runner = Script(block_until_cancelled)
    def branch(name: str) -> dict:
        return {"StartAt": name, "States": {name: {"Type": "Task", "Resource": LAMBDA,
                                                   "End": True}}}
    execution, events = start(machine({
        "P": {"Type": "Parallel", "End": True, "Branches": [branch("T1"), {
            "StartAt": "M", "States": {"M": {"Type": "Map", "End": True,
                                             "ItemProcessor": branch("T2")}}}]}}),
        [1, 2], runner=runner)
    wait_for(lambda: len(runner.requests) == 3, "three tasks to run")
    execution.stop()
    assert execution.wait(10).status == "ABORTED"
    assert all(r.cancelled.is_set() for r in runner.requests)
    assert types(events).count("TaskStateAborted") == 3
    assert types(events).count("MapIterationAborted") == 2
    assert {"MapStateAborted", "ParallelStateAborted"} <= set(types(events))
    assert types(events)[-1] == "ExecutionAborted"


def test_an_execution_past_its_timeout_seconds_times_out():
    execution, events = start(machine({"W": {"Type": "Wait", "Seconds": 3600, "End": True}},
                                      TimeoutSeconds=1))
    outcome = execution.wait(10)
    assert (outcome.status, outcome.error) == ("TIMED_OUT", "States.Timeout")
    assert types(events)[-1] == "ExecutionTimedOut"


def test_a_defect_in_the_engine_still_ends_the_execution_with_the_reason():
    ended: list[Outcome] = []

    class BrokenSink(list):
        def __call__(self, event):
            if event["type"] == "PassStateExited":
                raise KeyError("disk full")
            self.append(event)

    sink = BrokenSink()
    execution = Execution(parse_definition(json.dumps(machine({"P": {"Type": "Pass",
                                                                     "End": True}}))),
                          {}, info(), Script(echo), sink, on_end=ended.append)
    outcome = execution.run()
    assert outcome.status == "FAILED" and "disk full" in outcome.cause
    assert ended == [outcome] and sink[-1]["type"] == "ExecutionFailed"
