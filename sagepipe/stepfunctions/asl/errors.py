"""AWS's error names, how Retry and Catch match them, and the errors the engine raises.

The matching rules are AWS's, not the ASL spec's first draft: `States.ALL` matches every error
except the two terminal ones (`States.Runtime`, `States.DataLimitExceeded`), which no Retry or
Catch ever handles; `States.TaskFailed` is a wildcard for every error except timeouts; and
`States.Timeout` also matches a missed heartbeat (`States.HeartbeatTimeout`).
"""

from __future__ import annotations

from dataclasses import dataclass

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
PERMISSIONS = "States.Permissions"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
ITEM_READER_FAILED = "States.ItemReaderFailed"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"

# Every `States.` name AWS defines; a retrier or catcher naming another one never matches.
RESERVED = frozenset({
    ALL, TASK_FAILED, TIMEOUT, HEARTBEAT_TIMEOUT, RUNTIME, DATA_LIMIT_EXCEEDED,
    INTRINSIC_FAILURE, PERMISSIONS, RESULT_PATH_MATCH_FAILURE, PARAMETER_PATH_FAILURE,
    BRANCH_FAILED, NO_CHOICE_MATCHED, ITEM_READER_FAILED, EXCEED_TOLERATED_FAILURE_THRESHOLD,
    "States.QueryEvaluationError"})
# Errors that end the execution whatever its Retry and Catch say.
TERMINAL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})
TIMEOUTS = frozenset({TIMEOUT, HEARTBEAT_TIMEOUT})


def error_matches(error_equals: list[str], error: str) -> bool:
    """Whether a retrier's or catcher's ErrorEquals handles `error`, by AWS's rules."""
    if error in TERMINAL:
        return False
    for name in error_equals:
        if name in (ALL, error):
            return True
        if name == TASK_FAILED and error not in TIMEOUTS:
            return True
        if name == TIMEOUT and error == HEARTBEAT_TIMEOUT:
            return True
    return False


class StatesError(Exception):
    """A failure inside an execution, with the Error and Cause AWS reports for it."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    @property
    def output(self) -> dict[str, str]:
        """The error output a catcher hands on (`{"Error": ..., "Cause": ...}`)."""
        return {"Error": self.error, "Cause": self.cause}


class DataFlowError(StatesError):
    """A path, template or intrinsic that cannot be applied to the state's data.

    AWS reports these as `States.Runtime` (which no Retry or Catch handles), prefixed by the
    state's name; the state runner adds that prefix.
    """

    def __init__(self, cause: str) -> None:
        super().__init__(RUNTIME, cause)


class PathSyntaxError(ValueError):
    """The text is not a JSONPath Step Functions accepts."""


class PathNotFound(LookupError):
    """A definite path selected nothing in the data it was applied to."""


class TaskFailure(StatesError):
    """Raised by a task runner: the task failed with this AWS error name and cause."""


class Aborted(Exception):
    """The execution (or a sibling branch's failure) cancelled the work under way."""


@dataclass(frozen=True)
class Diagnostic:
    """One finding of definition validation, as ValidateStateMachineDefinition reports it."""

    code: str
    message: str
    location: str
    severity: str = "ERROR"

    def __str__(self) -> str:
        """CreateStateMachine's form: `CODE: message at /States/X/Field`."""
        return f"{self.code}: {self.message} at {self.location}"

    def as_api(self) -> dict[str, str]:
        return {"severity": self.severity, "code": self.code, "message": self.message,
                "location": self.location}


class DefinitionError(ValueError):
    """A definition AWS would reject; `str()` is CreateStateMachine's InvalidDefinition text."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        joined = ", ".join(str(d) for d in diagnostics)
        super().__init__(f"Invalid State Machine Definition: '{joined}'")
