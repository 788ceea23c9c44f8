"""The Amazon States Language's states, with the old SDK's classes and field order.

A state is built from keyword fields (`Pass("p", result_path="$.x")`); `to_dict()` emits them in
the order given, then `Type`, `Next`/`End`, `Retry`, `Catch` and the state's own structure
(`Choices`, `Branches`, `Iterator`): the order the old SDK wrote, so definitions match it byte
for byte. Fields are checked when the state is built, so a mistake points at the line that made it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar, TypeVar

from ds_stepfunctions.exceptions import DuplicateStatesInChain
from ds_stepfunctions.inputs.placeholders import Reference, StepInput
from ds_stepfunctions.steps.choice_rule import BaseRule
from ds_stepfunctions.steps.fields import (
    NULLABLE_FIELDS,
    PATH_FIELDS,
    PATH_TWINS,
    PAYLOAD_FIELDS,
    Field,
)
from ds_stepfunctions.steps.payload import render_path, render_payload, render_value

logger = logging.getLogger(__name__)

_FIELDS_BY_NAME = {f.value: f for f in Field}
_COMMON: tuple[Field, ...] = (Field.Comment, Field.InputPath, Field.OutputPath)
_TASK_LIKE: tuple[Field, ...] = (*_COMMON, Field.Parameters, Field.ResultSelector,
                                 Field.ResultPath)


def render_field(field: Field, value: Any, where: str) -> dict[str, Any]:
    """One field as ASL, e.g. `{"InputPath": "$['a']"}` or `{"SecondsPath": "$$...."}`."""
    key = field.asl_name
    label = f"{where}: {key}"
    if field in PAYLOAD_FIELDS:
        return {key: render_payload(value, label)}
    if field in PATH_FIELDS:
        return {key: render_path(value, label)}
    if field in PATH_TWINS and isinstance(value, Reference):
        return {f"{key}Path": value.to_jsonpath()}
    return {key: render_value(value, label)}


class Block:
    """A set of ASL fields given as keyword arguments (a state, a Retry, a Catch, a graph)."""

    allowed: ClassVar[tuple[Field, ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        names = [f.value for f in self.allowed]
        unknown = [k for k in kwargs if k not in names]
        if unknown:
            raise TypeError(f"{type(self).__name__} does not take {', '.join(unknown)} "
                            f"(it takes: {', '.join(names)})")
        self.fields: dict[str, Any] = dict(kwargs)

    # The old SDK's way of asking which fields a block takes.
    def allowed_fields(self) -> list[Field]:
        return list(self.allowed)

    def is_field_allowed(self, name: str) -> bool:
        return name in (f.value for f in self.allowed)

    def __getattr__(self, name: str) -> Any:
        # The old SDK exposes each field as an attribute (`step.parameters`): None when unset.
        if name in _FIELDS_BY_NAME and "fields" in self.__dict__:
            return self.__dict__["fields"].get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def label(self) -> str:
        """What an error message calls this block: its class (a state: its id)."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return self._render_fields()

    def _render_fields(self) -> dict[str, Any]:
        """The fields as ASL, in the order given (a state's `type` where its __init__ put it);
        an unset field (None) is left out, but for those where ASL gives null a meaning."""
        result: dict[str, Any] = {}
        for name, value in self.fields.items():
            if name == "type":
                result["Type"] = value
            elif value is not None or _FIELDS_BY_NAME[name] in NULLABLE_FIELDS:
                result.update(render_field(_FIELDS_BY_NAME[name], value, self.label))
        return result

    def to_json(self, pretty: bool = False) -> str:
        return json.dumps(self.to_dict(), indent=4 if pretty else None)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        return f"{type(self).__name__}({fields})"

    def __str__(self) -> str:
        return self.to_json(pretty=True)


class Retry(Block):
    """Retry the state on the errors in `error_equals` (interval_seconds, max_attempts,
    backoff_rate, max_delay_seconds, jitter_strategy)."""

    allowed = (Field.ErrorEquals, Field.IntervalSeconds, Field.MaxAttempts, Field.BackoffRate,
               Field.MaxDelaySeconds, Field.JitterStrategy)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _require_errors(self)
        self.to_dict()


class Catch(Block):
    """On the errors in `error_equals`, go to `next_step` (with the error at `result_path`)."""

    allowed = (Field.ErrorEquals, Field.ResultPath)

    def __init__(self, next_step: State | Chain, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _require_errors(self)
        self.next_step = next_step
        self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "Next": self.next_step.state_id}


def _require_errors(block: Block) -> None:
    errors = block.fields.get("error_equals")
    if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
        raise ValueError(f"{type(block).__name__} needs error_equals, a non-empty list of error "
                         f"names such as ['States.TaskFailed'], not {errors!r}")


class State(Block):
    """A state: an id (unique in its state machine, at most 80 characters) and ASL fields."""

    state_type: str = ""  # each subclass's; State(..., state_type=) sets an instance's own
    allowed = _TASK_LIKE

    def __init__(self, state_id: str, state_type: str | None = None,
                 output_schema: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not isinstance(state_id, str) or not 0 < len(state_id) <= 80:
            raise ValueError(f"A state id is a string of 1 to 80 characters, not {state_id!r}")
        super().__init__(**kwargs)
        self.state_id = state_id
        self.state_type = state_type or self.state_type
        self.fields["type"] = self.state_type
        self.output_schema = output_schema
        self.step_output = StepInput(schema=output_schema)
        self.retries: list[Retry] = []
        self.catches: list[Catch] = []
        self.next_step: State | Chain | None = None
        self._render_fields()  # fail now, at the line that built the state

    @property
    def type(self) -> str:
        return self.state_type

    @property
    def label(self) -> str:
        return self.state_id

    def update_parameters(self, params: dict[str, Any]) -> None:
        """Replace the `parameters` field (for states that take one)."""
        if Field.Parameters in self.allowed:
            render_payload(params, f"{self.state_id}: Parameters")
            self.fields[Field.Parameters.value] = params

    def next(self, next_step: State | Chain) -> State | Chain:
        """Go to `next_step` after this state; returns it, so calls chain."""
        if self.state_type in ("Succeed", "Fail"):
            raise ValueError(f"{self.state_id} is a {self.state_type} state, which ends the "
                             "execution: it has no next step")
        self.next_step = next_step
        return next_step

    def output(self) -> StepInput:
        """Placeholders for this state's output: `step.output()["Payload"]["rmse"]`."""
        return self.step_output

    def add_retry(self, retry: Retry) -> None:
        if Field.Retry not in self.allowed:
            raise ValueError(f"{type(self).__name__} state does not support retry field.")
        self.retries.append(retry)

    def add_catch(self, catch: Catch) -> None:
        if Field.Catch not in self.allowed:
            raise ValueError(f"{type(self).__name__} state does not support catch field.")
        self.catches.append(catch)

    def successors(self) -> Iterator[State | Chain]:
        """The states this one can go to, in the order the old SDK listed them."""
        if self.next_step is not None:
            yield self.next_step
        for catch in self.catches:
            yield catch.next_step

    def to_dict(self) -> dict[str, Any]:
        result = self._render_fields()
        if self.next_step is not None:
            result["Next"] = self.next_step.state_id
        elif self.state_type not in ("Succeed", "Fail", "Choice"):
            result["End"] = True
        if self.retries:
            result["Retry"] = [r.to_dict() for r in self.retries]
        if self.catches:
            result["Catch"] = [c.to_dict() for c in self.catches]
        return result

    def __repr__(self) -> str:
        return f"{self.state_id} {super().__repr__()}"


class Pass(State):
    """Passes its input (or `result`, or `parameters`) to its output."""

    state_type = "Pass"
    allowed = (*_COMMON, Field.Parameters, Field.ResultPath, Field.Result)

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        super().__init__(state_id, **kwargs)


class Succeed(State):
    """Ends the execution successfully."""

    state_type = "Succeed"
    allowed = _COMMON

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        super().__init__(state_id, **kwargs)


class Fail(State):
    """Ends the execution as failed, with `error` and `cause` (placeholders become
    ErrorPath/CausePath)."""

    state_type = "Fail"
    allowed = (Field.Comment, Field.Error, Field.Cause)

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        super().__init__(state_id, **kwargs)


class Wait(State):
    """Waits `seconds`, until `timestamp`, or for the `seconds_path`/`timestamp_path` of the
    input: exactly one of them (a placeholder for seconds/timestamp becomes its *Path)."""

    state_type = "Wait"
    allowed = (*_COMMON, Field.Seconds, Field.Timestamp, Field.SecondsPath, Field.TimestampPath)

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        given = [k for k in ("seconds", "timestamp", "seconds_path", "timestamp_path")
                 if kwargs.get(k) is not None]
        if len(given) != 1:
            raise ValueError("The Wait state MUST contain exactly one of 'seconds', "
                             f"'seconds_path', 'timestamp' or 'timestamp_path' (got {given})")
        super().__init__(state_id, **kwargs)


class Choice(State):
    """Branches on rules: the first matching `add_choice` rule wins, else `default_choice`.
    In a Chain (or with `.next()`), the following step becomes the default."""

    state_type = "Choice"
    allowed = _COMMON

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        super().__init__(state_id, **kwargs)
        self.choices: list[tuple[BaseRule, State | Chain]] = []
        self.default: State | Chain | None = None

    def add_choice(self, rule: BaseRule, next_step: State | Chain) -> None:
        """Go to `next_step` when `rule` holds (rules are tried in the order added)."""
        if not isinstance(rule, BaseRule):
            raise TypeError(f"{self.state_id}: add_choice takes a ChoiceRule, not {rule!r}")
        rule.to_dict(f"{self.state_id}: Choices[{len(self.choices)}]")
        self.choices.append((rule, next_step))

    def default_choice(self, next_step: State | Chain) -> None:
        self.default = next_step

    def next(self, next_step: State | Chain) -> State | Chain:
        if self.default is not None:
            logger.warning("Chaining Choice state: overwriting %s's default choice (%s) with %s",
                           self.state_id, self.default.state_id, next_step.state_id)
        self.default_choice(next_step)
        return next_step

    def successors(self) -> Iterator[State | Chain]:
        if self.default is not None:
            yield self.default
        for _, next_step in self.choices:
            yield next_step

    def to_dict(self) -> dict[str, Any]:
        result = super().to_dict()
        result["Choices"] = [
            {**rule.to_dict(f"{self.state_id}: Choices[{i}]"), "Next": next_step.state_id}
            for i, (rule, next_step) in enumerate(self.choices)]
        if self.default is not None:
            result["Default"] = self.default.state_id
        return result


class Parallel(State):
    """Runs each branch (a state or a chain) concurrently; its output is the list of theirs."""

    state_type = "Parallel"
    allowed = (*_TASK_LIKE, Field.Retry, Field.Catch)

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        super().__init__(state_id, **kwargs)
        self.branches: list[State | Chain] = []

    def add_branch(self, branch: State | Chain) -> None:
        self.branches.append(branch)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "Branches": [Graph(b).to_dict() for b in self.branches]}


class Map(State):
    """Runs `iterator` (a state or a chain) for each item at `items_path`."""

    state_type = "Map"
    allowed = (*_TASK_LIKE, Field.Retry, Field.Catch, Field.ItemsPath, Field.Iterator,
               Field.MaxConcurrency)

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        iterator = kwargs.pop("iterator", None)
        super().__init__(state_id, **kwargs)
        self.iterator = iterator

    def attach_iterator(self, iterator: State | Chain) -> None:
        self.iterator = iterator

    def to_dict(self) -> dict[str, Any]:
        if self.iterator is None:
            raise ValueError(f"Map state {self.state_id} has no iterator: pass iterator= or "
                             "call attach_iterator()")
        return {**super().to_dict(), "Iterator": Graph(self.iterator).to_dict()}


class Task(State):
    """Runs the work named by `resource` (a Lambda ARN or a service integration)."""

    state_type = "Task"
    allowed = (*_TASK_LIKE, Field.TimeoutSeconds, Field.TimeoutSecondsPath,
               Field.HeartbeatSeconds, Field.HeartbeatSecondsPath, Field.Resource, Field.Retry,
               Field.Catch)

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        for a, b in (("timeout_seconds", "timeout_seconds_path"),
                     ("heartbeat_seconds", "heartbeat_seconds_path")):
            if kwargs.get(a) is not None and kwargs.get(b) is not None:
                raise ValueError(f"Only one of '{a}' or '{b}' can be provided.")
        super().__init__(state_id, **kwargs)


# Any list of states and chains: a list[Task] too (a list[State | Chain] would refuse it, as lists
# are invariant).
_Step = TypeVar("_Step", bound="State | Chain")


class Chain:
    """States in sequence: each one's next is the one after it (a Choice's, its default)."""

    def __init__(self, steps: list[_Step] | None = None) -> None:
        if steps is not None and not isinstance(steps, list):
            raise TypeError("Chain takes a 'list' of steps. You provided an input that is not "
                            "a list.")
        self.steps: list[State] = []
        for step in steps or []:
            for state in (step.steps if isinstance(step, Chain) else [step]):
                self.append(state)

    def append(self, step: State) -> None:
        """Add `step` at the end of the chain."""
        if any(step is s for s in self.steps):
            raise DuplicateStatesInChain(f"State '{step.state_id}' is already inside this chain. "
                                         "A chain cannot have duplicate states.")
        if self.steps:
            self.steps[-1].next(step)
        self.steps.append(step)

    @property
    def state_id(self) -> str:
        if not self.steps:
            raise ValueError("The chain is empty")
        return self.steps[0].state_id

    def __iter__(self) -> Iterator[State]:
        return iter(self.steps)

    def __repr__(self) -> str:
        return f"Chain(steps={self.steps!r})"


class Graph(Block):
    """A state machine (or a Parallel branch, a Map iterator): StartAt and every reachable state.

    Built once from `branch`; raises on two different states with one id, and on states that
    cannot be emitted (a Choice without rules, a Parallel without branches).
    """

    allowed = (Field.TimeoutSeconds, Field.Comment, Field.Version)

    def __init__(self, branch: State | Chain, **kwargs: Any) -> None:
        if not isinstance(branch, (State, Chain)):
            raise ValueError(f"Expected branch to be a State or a Chain, but got `{branch!r}`")
        super().__init__(**kwargs)
        self.branch = branch
        self.states = reachable_states(branch)
        for state in self.states.values():
            if isinstance(state, Choice) and not state.choices:
                raise ValueError(f"Choice state {state.state_id} has no rule: add_choice() first")
            if isinstance(state, Parallel) and not state.branches:
                raise ValueError(f"Parallel state {state.state_id} has no branch: add_branch()")

    def contains(self, state: State) -> bool:
        return self.states.get(state.state_id) is state

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "StartAt": self.branch.state_id,
                "States": {sid: state.to_dict() for sid, state in self.states.items()}}


class FrozenGraph(Graph):
    """A definition read back from Step Functions (`Workflow.attach`): emitted as it is."""

    def __init__(self, definition: dict[str, Any]) -> None:
        if not isinstance(definition, dict):
            raise ValueError(f"Expected definition to be a dict, but got `{type(definition)}`.")
        self.fields = {}
        self.definition = definition
        self.states = {}

    def to_dict(self) -> dict[str, Any]:
        return self.definition

    @classmethod
    def from_json(cls, json_definition: str) -> FrozenGraph:
        return cls(json.loads(json_definition))


def reachable_states(start: State | Chain) -> dict[str, State]:
    """Every state reachable from `start`, by id, in the order the old SDK visited them."""
    states: dict[str, State] = {}
    pending: list[State | Chain] = [start]
    while pending:
        node = pending.pop()
        if isinstance(node, Chain):
            pending.extend(reversed(node.steps))
            continue
        seen = states.get(node.state_id)
        if seen is node:
            continue
        if seen is not None and seen.to_dict() != node.to_dict():
            raise ValueError("Each state in a workflow must have a unique state id. Found "
                             f"duplicate state id '{node.state_id}' in workflow.")
        if seen is None:
            states[node.state_id] = node
            pending.extend(reversed(list(node.successors())))
    return states
