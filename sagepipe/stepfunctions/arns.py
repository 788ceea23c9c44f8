"""Step Functions' names and ARNs: what a name may hold, how the ARNs of state machines and
executions are made (through `config.arn`, the one ARN builder) and read back.

    arn:aws:states:<region>:<account>:stateMachine:<machine>
    arn:aws:states:<region>:<account>:execution:<machine>:<execution>       (STANDARD)
    arn:aws:states:<region>:<account>:express:<machine>:<execution>:<id>    (EXPRESS)

A string that is not an ARN of the kind an operation takes is InvalidArn, with AWS's wording;
a well-formed ARN that names nothing is the operation's DoesNotExist error (the caller's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sagepipe.config import arn
from sagepipe.stepfunctions.exceptions import InvalidArn, InvalidName

STATE_MACHINE = "stateMachine"
EXECUTION = "execution"
EXPRESS = "express"
# What Step Functions refuses in a name: white space, brackets, wildcards, these specials,
# control characters (AWS's list, CreateStateMachine / StartExecution `name`).
_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def check_name(name: str) -> str:
    if not name or _FORBIDDEN.search(name):
        raise InvalidName(f"Invalid Name: '{name}'")
    return name


def state_machine_arn(name: str, region: str) -> str:
    return arn("states", f"{STATE_MACHINE}:{name}", region)


def execution_arn(machine: str, name: str, region: str, express_id: str | None = None) -> str:
    if express_id:
        return arn("states", f"{EXPRESS}:{machine}:{name}:{express_id}", region)
    return arn("states", f"{EXECUTION}:{machine}:{name}", region)


@dataclass(frozen=True)
class Parsed:
    kind: str  # stateMachine | execution | express | activity ...
    names: tuple[str, ...]  # the resource's names after its kind


def parse(text: str, *kinds: str) -> Parsed:
    """The parts of a Step Functions ARN of one of `kinds`; InvalidArn otherwise."""
    parts = text.split(":")
    if len(parts) < 7 or parts[0] != "arn" or not parts[1].startswith("aws"):
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {text}'")
    if parts[2] != "states":
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {parts[2]}'")
    kind, names = parts[5], tuple(parts[6:])
    if kind not in kinds:
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {kind}'")
    expected = {STATE_MACHINE: (1, 2), EXECUTION: (2, 2), EXPRESS: (3, 3)}.get(kind, (1, 1))
    if not expected[0] <= len(names) <= expected[1] or not all(names):
        raise InvalidArn(f"Invalid Arn: 'Resource name not valid: {text}'")
    return Parsed(kind, names)


def machine_of_execution(execution: str) -> str:
    """The state machine ARN an execution ARN (standard or express) belongs to."""
    parts = execution.split(":")
    return ":".join([*parts[:5], STATE_MACHINE, parts[6]])
