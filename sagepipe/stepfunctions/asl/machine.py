"""The compiled state machine: what `definition.parse_definition` produces and the
interpreter runs. Plain data; every path, template and rule is already compiled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagepipe.stepfunctions.asl.choice import Test
from sagepipe.stepfunctions.asl.intrinsics import Call
from sagepipe.stepfunctions.asl.paths import Path
from sagepipe.stepfunctions.asl.payload import ROOT, Template

NO_RESULT = object()  # a Pass state without `Result`


@dataclass(frozen=True)
class Retrier:
    error_equals: list[str]
    interval_seconds: float = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter: str = "NONE"


@dataclass(frozen=True)
class Catcher:
    error_equals: list[str]
    next: str
    result_path: Path | None = ROOT


@dataclass(frozen=True)
class Batcher:
    """Map's ItemBatcher: items go to iterations as `{"Items": [...], "BatchInput": ...}`."""

    max_items: int | Path | None = None
    max_bytes: int | Path | None = None
    batch_input: Template | None = None


@dataclass
class State:
    """One state. Fields not used by its Type keep their defaults."""

    name: str
    type: str
    next: str | None = None
    end: bool = False
    input_path: Path | None = ROOT  # None: the field was null (select `{}`)
    output_path: Path | None = ROOT
    result_path: Path | None = ROOT  # None: discard the result
    parameters: Template | None = None
    result_selector: Template | None = None
    result: Any = NO_RESULT
    retriers: list[Retrier] = field(default_factory=list)
    catchers: list[Catcher] = field(default_factory=list)
    # Task
    resource: str = ""
    timeout: int | Path | None = None
    heartbeat: int | Path | None = None
    # Choice
    choices: list[tuple[Test, str]] = field(default_factory=list)
    default: str | None = None
    # Wait: ("Seconds" | "SecondsPath" | "Timestamp" | "TimestampPath", value)
    wait: tuple[str, Any] | None = None
    # Fail: a literal string or a compiled path / intrinsic call
    error: str | Path | Call | None = None
    cause: str | Path | Call | None = None
    # Parallel and Map
    branches: list[Scope] = field(default_factory=list)
    items_path: Path = ROOT
    item_selector: Template | None = None
    max_concurrency: int | Path = 0
    batcher: Batcher | None = None
    tolerated_count: int | Path | None = None
    tolerated_percentage: float | Path | None = None
    item_reader: dict | None = None
    result_writer: dict | None = None


@dataclass
class Scope:
    """A set of states that transition among themselves: the machine, a branch, a Map's
    processor."""

    start_at: str
    states: dict[str, State]


@dataclass
class StateMachine:
    definition: str
    root: Scope
    timeout_seconds: int | None = None
    comment: str | None = None
