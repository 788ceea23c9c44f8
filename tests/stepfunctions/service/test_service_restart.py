"""The local AWS stopping or dying in the middle of an execution: the execution ends ABORTED
with a reason that says so and keeps its history; state machines and finished executions are
all there; new executions run."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator

import pytest
from service_kit import WAITING, create, details, history, types, wait_for_event, wait_until_done
from testkit import client_for, free_port

from sagepipe.config import Settings
from sagepipe.server import running_pid, start_background, stop

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own


@pytest.fixture
def gateway(tmp_path) -> Iterator[Settings]:
    """A local AWS of this test's own, to stop and kill."""
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    yield settings
    stop(settings)


def start_waiting(settings: Settings) -> tuple[str, str, str]:
    """A finished execution and one waiting for ten minutes, of one state machine."""
    sfn = client_for(settings, "stepfunctions")
    machine = create(sfn, WAITING)
    finished = sfn.start_execution(stateMachineArn=machine, input='{"seconds": 0}')[
        "executionArn"]
    wait_until_done(sfn, finished, timeout=30)
    waiting = sfn.start_execution(stateMachineArn=machine, input='{"seconds": 600}')[
        "executionArn"]
    wait_for_event(sfn, waiting, "WaitStateEntered")
    return machine, finished, waiting


def check_after_restart(settings: Settings, machine: str, finished: str, waiting: str,
                        cause: str) -> None:
    sfn = client_for(settings, "stepfunctions")
    described = sfn.describe_execution(executionArn=waiting)
    assert (described["status"], described["error"]) == ("ABORTED", "LocalAws.Restarted")
    assert cause in described["cause"]
    events = history(sfn, waiting)
    assert types(events) == ["ExecutionStarted", "WaitStateEntered",
                             *(["WaitStateAborted"] if len(events) == 4 else []),
                             "ExecutionAborted"]
    assert details(events[-1])["cause"] == described["cause"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert sfn.describe_execution(executionArn=finished)["status"] == "SUCCEEDED"
    assert sfn.describe_state_machine(stateMachineArn=machine)["status"] == "ACTIVE"
    again = sfn.start_execution(stateMachineArn=machine, input='{"seconds": 0}')[
        "executionArn"]
    assert json.loads(wait_until_done(sfn, again, timeout=30)["output"]) == "done"


def test_a_killed_local_aws_aborts_the_running_execution_when_it_starts_again(gateway):
    machine, finished, waiting = start_waiting(gateway)
    pid = running_pid(gateway)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    stop(gateway)  # forgets the dead instance's record
    start_background(gateway)
    check_after_restart(gateway, machine, finished, waiting, "it was not resumed")


def test_a_stopped_local_aws_aborts_its_running_executions_first(gateway):
    machine, finished, waiting = start_waiting(gateway)
    assert stop(gateway)
    start_background(gateway)
    check_after_restart(gateway, machine, finished, waiting, "it was not resumed")
