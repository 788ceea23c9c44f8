"""Which function runs each state Type."""

from __future__ import annotations

from sagepipe.stepfunctions.asl.fanout import map_state, parallel_state
from sagepipe.stepfunctions.asl.interpreter import Handler
from sagepipe.stepfunctions.asl.states import (
    choice_state,
    fail_state,
    pass_state,
    succeed_state,
    wait_state,
)
from sagepipe.stepfunctions.asl.tasks import task_state

HANDLERS: dict[str, Handler] = {
    "Pass": pass_state, "Task": task_state, "Choice": choice_state, "Wait": wait_state,
    "Succeed": succeed_state, "Fail": fail_state, "Parallel": parallel_state, "Map": map_state,
}
