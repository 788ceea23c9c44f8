"""The IAM policy evaluator: what the local IAM's SimulatePrincipalPolicy answers, and what the
templates' sufficiency tests (tests/policy) decide with.

`Principal.decide(call)` answers as IAM's evaluation logic does for one identity-based request
in one account: an explicit Deny wins, else an Allow is needed; a permissions boundary must
allow the call too. Statements are matched on Action / NotAction (wildcards, case-insensitive),
Resource / NotResource (ARN globs, case-sensitive) and Condition (the operators below; any
other raises UnsupportedPolicy, so that a new one is implemented rather than ignored).
Resource-based policies, SCPs and session policies are not evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

NEGATED = ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")
ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "Allow", "ExplicitDeny", "ImplicitDeny"


class UnsupportedPolicy(ValueError):
    """A policy uses something this evaluator does not implement (say so, never guess)."""


class MalformedPolicy(ValueError):
    """A policy document that is not one IAM accepts; the message says what is wrong."""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters (`/` and `:` included), `?` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _condition_holds(operator: str, key: str, expected: list[str],
                     context: Mapping[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    actual = {k.lower(): v for k, v in context.items()}.get(key.lower())
    if actual is None:
        return if_exists or base in NEGATED
    if base in ("StringEquals", "ArnEquals"):
        return actual in expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() in [e.lower() for e in expected]
    if base in ("StringLike", "ArnLike"):
        return any(matches(e, actual) for e in expected)
    if base in ("StringNotEquals", "ArnNotEquals"):
        return actual not in expected
    if base in ("StringNotLike", "ArnNotLike"):
        return not any(matches(e, actual) for e in expected)
    if base == "Bool":
        return actual.lower() in [str(e).lower() for e in expected]
    raise UnsupportedPolicy(f"condition operator {operator} is not implemented")


@dataclass(frozen=True)
class Call:
    """One request an identity makes: the action, the resource ARN, the request context."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)
    caller: str = ""

    def __str__(self) -> str:
        context = "".join(f" [{k}={v}]" for k, v in self.context.items())
        return f"{self.action} on {self.resource}{context}"


@dataclass(frozen=True)
class Statement:
    where: str  # the policy (and statement id) it comes from
    body: dict[str, Any]  # resolved: plain strings and lists only

    def applies_to(self, call: Call) -> bool:
        body = self.body
        if "Principal" in body or "NotPrincipal" in body:
            raise UnsupportedPolicy(f"{self.where}: resource policies are not evaluated here")
        if "Action" in body:
            action_ok = any(matches(a, call.action, True) for a in as_list(body["Action"]))
        else:
            action_ok = not any(matches(a, call.action, True) for a in as_list(body["NotAction"]))
        if "Resource" in body:
            resource_ok = any(matches(r, call.resource) for r in as_list(body["Resource"]))
        else:
            resource_ok = not any(matches(r, call.resource)
                                  for r in as_list(body["NotResource"]))
        return action_ok and resource_ok and all(
            _condition_holds(operator, key, [str(v) for v in as_list(expected)], call.context)
            for operator, keys in body.get("Condition", {}).items()
            for key, expected in keys.items())


def evaluate(statements: Iterable[Statement], call: Call) -> tuple[str, list[Statement]]:
    """The decision within one policy set, and the statements that made it (the Deny ones
    for an explicit deny, the Allow ones for an allow, none for an implicit deny)."""
    applying = [s for s in statements if s.applies_to(call)]
    denying = [s for s in applying if s.body.get("Effect") == "Deny"]
    if denying:
        return EXPLICIT_DENY, denying
    allowing = [s for s in applying if s.body.get("Effect") == "Allow"]
    return (ALLOW, allowing) if allowing else (IMPLICIT_DENY, [])


def decide(statements: Iterable[Statement], call: Call) -> str:
    """"Allow", "ExplicitDeny" or "ImplicitDeny", as IAM decides within one policy set."""
    return evaluate(statements, call)[0]


def statements_of(where: str, document: Mapping[str, Any]) -> list[Statement]:
    """The statements of a parsed policy document, named `<where>/<Sid or index>`."""
    return [Statement(f"{where}/{s.get('Sid') or i}", s)
            for i, s in enumerate(as_list(document.get("Statement", [])))]


def parse_document(text: str) -> dict[str, Any]:
    """A policy document as IAM reads it: a JSON object whose statements each have an Effect,
    an Action or NotAction, and (identity policies) a Resource or NotResource."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise MalformedPolicy(f"Syntax errors in policy: {exc}.") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise MalformedPolicy("Syntax errors in policy: a policy is a JSON object with a "
                              "Statement.")
    for statement in as_list(document["Statement"]):
        if not isinstance(statement, dict):
            raise MalformedPolicy("Syntax errors in policy: each Statement is a JSON object.")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise MalformedPolicy("Policy statement must contain a valid Effect (Allow or "
                                  "Deny).")
        if ("Action" in statement) == ("NotAction" in statement):
            raise MalformedPolicy("Policy statement must contain one of Action or NotAction.")
    return document


@dataclass
class Principal:
    """A role as deployed: its identity statements and, if it has one, its boundary's."""

    name: str
    statements: list[Statement]
    boundary: list[Statement] | None = None

    def decide(self, call: Call) -> str:
        verdict = decide(self.statements, call)
        if verdict != ALLOW or self.boundary is None:
            return verdict
        bounded = decide(self.boundary, call)
        return ALLOW if bounded == ALLOW else f"{bounded} (permissions boundary)"
