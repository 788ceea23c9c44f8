"""The Amazon States Language interpreter of the local Step Functions (JSONPath dialect).

Public interface (what the service layer uses):
- `parse_definition(text, resource_check)` -> StateMachine, or DefinitionError whose str() is
  CreateStateMachine's InvalidDefinition message; `validate_definition` -> (diagnostics,
  machine) for ValidateStateMachineDefinition.
- `Execution(machine, input, info, runner, sink)`: `.start()` in the background, `.run()`
  synchronously (StartSyncExecution), `.stop(error, cause)`, `.wait()`, `.outcome`,
  `.send_task_success/failure/heartbeat(token, ...)`.
- `TaskRunner` / `TaskRequest`: how Task states reach the outside world.
- Every history event goes to the `sink` as it happens (a dict in botocore's HistoryEvent
  shape); after a restart, `interrupted_event(last_id, now)` closes an execution that was
  running. `check_size` applies the 256 KB limit to an execution's input.
"""

from sagepipe.stepfunctions.asl.control import Clock
from sagepipe.stepfunctions.asl.definition import parse_definition, validate_definition
from sagepipe.stepfunctions.asl.errors import DefinitionError, Diagnostic, StatesError, TaskFailure
from sagepipe.stepfunctions.asl.execution import Execution, ExecutionInfo, Outcome
from sagepipe.stepfunctions.asl.history import Event, interrupted_event, make_event
from sagepipe.stepfunctions.asl.machine import StateMachine
from sagepipe.stepfunctions.asl.payload import MAX_PAYLOAD_BYTES, check_size, to_json
from sagepipe.stepfunctions.asl.taskrunner import TaskRequest, TaskRunner, token_execution_arn

__all__ = [
    "MAX_PAYLOAD_BYTES", "Clock", "DefinitionError", "Diagnostic", "Event", "Execution",
    "ExecutionInfo", "Outcome", "StateMachine", "StatesError", "TaskFailure", "TaskRequest",
    "TaskRunner", "check_size", "interrupted_event", "make_event", "parse_definition", "to_json",
    "token_execution_arn", "validate_definition",
]
