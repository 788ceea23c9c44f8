"""The contract between the interpreter and whatever runs a Task state's Resource.

The interpreter resolves the state's Parameters, then calls `TaskRunner.run(request)` in a
thread of its own, so that a runner may block (a `.sync` job polls for minutes) while the
interpreter keeps watching the state's TimeoutSeconds, HeartbeatSeconds and the execution's
stop. A runner returns the task's result (JSON data) or raises TaskFailure(error, cause)
with AWS's error name; when `request.cancelled` is set it should stop its work (stop the
training job) and return. `integrations.AwsIntegrations` is the runner the service uses.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

WAIT_FOR_TASK_TOKEN = ".waitForTaskToken"  # noqa: S105 - a Resource suffix


@dataclass
class TaskRequest:
    resource: str  # the state's Resource ARN, as written
    parameters: Any  # the resolved Parameters (the effective input if it has none)
    region: str
    execution_arn: str
    state_name: str
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None
    task_token: str | None = None  # `.waitForTaskToken`: what `$$.Task.Token` holds
    cancelled: threading.Event = field(default_factory=threading.Event)
    # A `.sync` runner reports the start request's response (the TaskSubmitted event) here.
    submitted: Callable[[Any], None] = lambda output: None
    # A runner can keep the state's HeartbeatSeconds from expiring by calling this.
    heartbeat: Callable[[], None] = lambda: None


class TaskRunner(Protocol):
    def run(self, request: TaskRequest) -> Any: ...


def new_task_token(execution_arn: str) -> str:
    """An opaque token that tells the service which execution it belongs to."""
    raw = json.dumps({"execution": execution_arn, "nonce": uuid.uuid4().hex})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def token_execution_arn(token: str) -> str | None:
    """The execution a task token belongs to (None: not a token this engine issued)."""
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))["execution"]
    except (ValueError, KeyError, TypeError):
        return None
