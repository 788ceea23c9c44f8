"""Retry (attempts and the delays asked of the clock) and Catch routing, with AWS's rules for
the reserved error names; task timeouts, heartbeats and task tokens."""

from __future__ import annotations

import time

import pytest
from asl_kit import (
    FUNCTION,
    LAMBDA,
    Script,
    VirtualClock,
    block_until_cancelled,
    details,
    echo,
    fails,
    machine,
    run,
    start,
    types,
    wait_for,
)

from sagepipe.stepfunctions.asl.errors import error_matches


def task(**fields) -> dict:
    return {"Type": "Task", "Resource": LAMBDA, "End": True, **fields}


def caught_to(error_equals: list[str], **fields) -> dict:
    return machine({
        "T": task(Catch=[{"ErrorEquals": error_equals, "Next": "Handler",
                          "ResultPath": "$.error"}], **fields),
        "Handler": {"Type": "Pass", "End": True}})


def test_fails_twice_then_succeeds_with_exponential_backoff():
    runner, clock = Script(fails("Lambda.ServiceException"), fails("Lambda.ServiceException"),
                           {"ok": True}), VirtualClock()
    outcome, events = run(machine({"T": task(Retry=[{
        "ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 15, "MaxAttempts": 2,
        "BackoffRate": 4.0}])}), {}, runner=runner, clock=clock)
    assert outcome.output == {"ok": True}
    assert len(runner.requests) == 3 and clock.sleeps == [15, 60]
    assert types(events).count("TaskScheduled") == 3 and types(events).count("TaskFailed") == 2


def test_retries_stop_after_max_attempts():
    runner, clock = Script(fails("Boom")), VirtualClock()
    outcome, _ = run(machine({"T": task(Retry=[{"ErrorEquals": ["Boom"], "MaxAttempts": 3}])}),
                     runner=runner, clock=clock)
    assert (outcome.error, len(runner.requests), clock.sleeps) == ("Boom", 4, [1, 2, 4])


def test_max_attempts_zero_never_retries():
    runner = Script(fails("Boom"))
    outcome, _ = run(machine({"T": task(Retry=[{"ErrorEquals": ["Boom"], "MaxAttempts": 0},
                                              {"ErrorEquals": ["States.ALL"]}])}),
                     runner=runner)
    assert outcome.error == "Boom" and len(runner.requests) == 1  # the first match decides


def test_max_delay_caps_and_full_jitter_stays_below_the_delay():
    clock = VirtualClock()
    run(machine({"T": task(Retry=[{"ErrorEquals": ["Boom"], "IntervalSeconds": 10,
                                   "MaxAttempts": 4, "MaxDelaySeconds": 25}])}),
        runner=Script(fails("Boom")), clock=clock)
    assert clock.sleeps == [10, 20, 25, 25]
    clock = VirtualClock()
    run(machine({"T": task(Retry=[{"ErrorEquals": ["Boom"], "IntervalSeconds": 10,
                                   "MaxAttempts": 20, "JitterStrategy": "FULL"}])}),
        runner=Script(fails("Boom")), clock=clock)
    assert len(clock.sleeps) == 20 and all(0 <= s <= 10 * 2 ** i
                                           for i, s in enumerate(clock.sleeps))
    assert len(set(clock.sleeps)) > 1


def test_each_retrier_counts_its_own_attempts():
    """AWS's example: errors A, B, C, B, B against retriers [A,B](2) and [C]."""
    runner, clock = Script(fails("ErrorA"), fails("ErrorB"), fails("ErrorC"), fails("ErrorB"),
                           fails("ErrorB")), VirtualClock()
    outcome, _ = run(machine({"T": task(
        Retry=[{"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "MaxAttempts": 2},
               {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}],
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Z"}]), "Z": {"Type": "Succeed"}}),
        runner=runner, clock=clock)
    assert clock.sleeps == [1, 2, 5] and len(runner.requests) == 4
    assert outcome.status == "SUCCEEDED" and outcome.output == {"Error": "ErrorB", "Cause": ""}


def test_retry_count_is_in_the_context_object():
    runner = Script(fails("Boom"), echo)
    outcome, _ = run(machine({"T": task(Parameters={"try.$": "$$.State.RetryCount"},
                                        Retry=[{"ErrorEquals": ["Boom"]}])}), runner=runner)
    assert outcome.output == {"try": 1}


def test_catch_puts_the_error_output_at_its_result_path():
    outcome, events = run(caught_to(["States.TaskFailed"]), {"keep": 1},
                          runner=Script(fails("ValueError", "bad input")))
    assert outcome.output == {"keep": 1, "error": {"Error": "ValueError", "Cause": "bad input"}}
    assert types(events)[-4:] == ["TaskStateExited", "PassStateEntered", "PassStateExited",
                                  "ExecutionSucceeded"]


@pytest.mark.parametrize(("error_equals", "error", "caught"), [
    (["States.ALL"], "Anything", True),
    (["States.ALL"], "States.Timeout", True),
    (["States.ALL"], "States.Runtime", False),
    (["States.ALL"], "States.DataLimitExceeded", False),
    (["States.Runtime"], "States.Runtime", False),  # terminal: nothing handles it
    (["States.TaskFailed"], "Lambda.Unknown", True),
    (["States.TaskFailed"], "States.Timeout", False),
    (["States.TaskFailed"], "States.HeartbeatTimeout", False),
    (["States.Timeout"], "States.HeartbeatTimeout", True),
    (["States.HeartbeatTimeout"], "States.Timeout", False),
    (["A", "B"], "B", True),
    (["A"], "B", False),
])
def test_error_name_matching(error_equals, error, caught):
    assert error_matches(error_equals, error) is caught


def test_states_all_does_not_catch_a_runtime_error():
    definition = caught_to(["States.ALL"], Parameters={"x.$": "$.missing"},
                           Retry=[{"ErrorEquals": ["States.ALL"]}])
    runner = Script(echo)
    outcome, _ = run(definition, {}, runner=runner)
    assert outcome.error == "States.Runtime" and runner.requests == []


def test_uncaught_errors_fail_the_execution_after_task_failed():
    outcome, events = run(caught_to(["Other"]), runner=Script(fails("Boom", "why")))
    assert (outcome.error, outcome.cause) == ("Boom", "why")
    assert types(events)[-2:] == ["TaskFailed", "ExecutionFailed"]


def test_a_bare_function_arn_records_lambda_function_events():
    outcome, events = run(machine({"T": task(Resource=FUNCTION, TimeoutSeconds=30)}),
                          {"a": 1}, runner=Script(echo))
    assert outcome.output == {"a": 1}
    assert types(events)[2:5] == ["LambdaFunctionScheduled", "LambdaFunctionStarted",
                                  "LambdaFunctionSucceeded"]
    assert details(events[2]) == {"resource": FUNCTION, "input": '{"a":1}',
                                  "inputDetails": {"truncated": False}, "timeoutInSeconds": 30}


def test_a_task_past_its_timeout_seconds_times_out_and_its_runner_is_cancelled():
    runner = Script(block_until_cancelled, {"second": "try"})
    outcome, events = run(machine({"T": task(TimeoutSeconds=1, Retry=[
        {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1}])}), runner=runner)
    assert runner.requests[0].cancelled.is_set()
    assert outcome.output == {"second": "try"}
    timed_out = next(e for e in events if e["type"] == "TaskTimedOut")
    assert details(timed_out)["error"] == "States.Timeout"


def test_timeout_seconds_path_and_heartbeat_timeout():
    outcome, events = run(machine({"T": task(TimeoutSecondsPath="$.limit",
                                             HeartbeatSeconds=1)}),
                          {"limit": 60}, runner=Script(block_until_cancelled))
    assert outcome.error == "States.HeartbeatTimeout"
    assert details(events[2])["timeoutInSeconds"] == 60
    assert details(events[2])["heartbeatInSeconds"] == 1


def test_wait_for_task_token_takes_the_result_sent_with_the_token():
    definition = machine({"T": task(
        Resource="arn:aws:states:::lambda:invoke.waitForTaskToken",
        Parameters={"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}})})
    runner = Script({"StatusCode": 202})
    execution, events = start(definition, runner=runner, clock=VirtualClock())
    wait_for(lambda: "TaskSubmitted" in types(events), "the task to be submitted")
    token = runner.requests[0].parameters["Payload"]["token"]
    assert not execution.send_task_success("not-a-token", {})
    assert execution.send_task_heartbeat(token)
    assert execution.send_task_success(token, {"answer": 42})
    outcome = execution.wait(10)
    assert outcome.output == {"answer": 42}
    assert types(events)[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted",
                                  "TaskSucceeded"]


def test_an_answer_reaches_a_task_that_has_long_been_waiting_for_it():
    definition = machine({"T": task(
        Resource="arn:aws:states:::lambda:invoke.waitForTaskToken",
        Parameters={"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}})})
    runner = Script({"StatusCode": 202})
    execution, events = start(definition, runner=runner, clock=VirtualClock())
    wait_for(lambda: "TaskSubmitted" in types(events), "the task to be submitted")
    token = runner.requests[0].parameters["Payload"]["token"]
    time.sleep(0.3)  # the task is asleep on its token by now, with no limit to wake it
    assert execution.send_task_failure(token, "Review.Rejected", "no")
    outcome = execution.wait(10)
    assert outcome is not None and (outcome.error, outcome.cause) == ("Review.Rejected", "no")
