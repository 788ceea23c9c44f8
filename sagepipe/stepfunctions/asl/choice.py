"""Choice rules: compiled from the definition (with its validation) and tested on the input.

A comparison whose variable holds a value of another type (a string under NumericEquals) is
false, as in AWS; a variable path that selects nothing fails with States.Runtime, except under
IsPresent. Rules are validated where they are compiled so that a Choice AWS would reject
(two operators in one rule, `Next` inside `And`, a StringEquals with a number) is rejected at
create time with the rule's location.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sagepipe.stepfunctions.asl.errors import DataFlowError, PathNotFound, PathSyntaxError
from sagepipe.stepfunctions.asl.paths import Path

Test = Callable[[Any, Any], bool]  # (state input, context object) -> matched
Report = Callable[[str, str], None]  # (location, message)

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_ORDER = {"Equals": operator.eq, "LessThan": operator.lt, "GreaterThan": operator.gt,
          "LessThanEquals": operator.le, "GreaterThanEquals": operator.ge}


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as AWS accepts it (upper-case T, zone required), else None."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Operator family -> (accepts the variable's value, converts it for comparison).
_FAMILIES: dict[str, tuple[Callable[[Any], bool], Callable[[Any], Any]]] = {
    "String": (lambda v: isinstance(v, str), lambda v: v),
    "Numeric": (_is_number, lambda v: v),
    "Boolean": (lambda v: isinstance(v, bool), lambda v: v),
    "Timestamp": (lambda v: parse_timestamp(v) is not None, parse_timestamp),
}
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None, "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str), "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}


def _operators() -> dict[str, tuple[str, str]]:
    """Every comparison operator -> (family, relation); relation `Matches` for StringMatches."""
    ops = {}
    for family in _FAMILIES:
        relations = ("Equals",) if family == "Boolean" else tuple(_ORDER)
        for relation in relations:
            ops[family + relation] = (family, relation)
            ops[family + relation + "Path"] = (family, relation)
    ops["StringMatches"] = ("String", "Matches")
    return ops


OPERATORS = _operators()
RULE_FIELDS = {"Variable", "Next", "Comment", "And", "Or", "Not", "IsPresent", *_TYPE_TESTS,
               *OPERATORS}


def compile_rule(rule: Any, location: str, report: Report, top: bool) -> Test | None:
    """The rule as a test, or None after reporting what is wrong with it."""
    if not isinstance(rule, dict):
        report(location, "A choice rule must be a JSON object")
        return None
    for field in rule:
        if field not in RULE_FIELDS:
            report(f"{location}/{field}", f"The field '{field}' is not supported in a choice rule")
    if top and not isinstance(rule.get("Next"), str):
        report(location, "These fields are required: [Next]")
    if not top and "Next" in rule:
        report(f"{location}/Next", "The field 'Next' is only allowed in a top-level choice rule")
    operators = [f for f in rule if f in OPERATORS or f in _TYPE_TESTS or
                 f in ("And", "Or", "Not", "IsPresent")]
    if len(operators) != 1:
        report(location, "A choice rule must have exactly one comparison operator or one of "
               f"And, Or, Not; found {operators or 'none'}")
        return None
    op = operators[0]
    if op in ("And", "Or", "Not"):
        return _compile_boolean(op, rule, f"{location}/{op}", report)
    variable = _variable(rule, location, report)
    if variable is None:
        return None
    return _compile_comparison(op, rule[op], variable, f"{location}/{op}", report)


def _compile_boolean(op: str, rule: dict, location: str, report: Report) -> Test | None:
    if "Variable" in rule:
        report(f"{location}", f"A rule with '{op}' must not have a 'Variable'")
    operand = rule[op]
    if op == "Not":
        inner = compile_rule(operand, location, report, top=False)
        return None if inner is None else lambda data, ctx: not inner(data, ctx)
    if not isinstance(operand, list) or not operand:
        report(location, f"The value for the field '{op}' must be a non-empty array of rules")
        return None
    compiled = [compile_rule(r, f"{location}/{i}", report, top=False)
                for i, r in enumerate(operand)]
    tests = [t for t in compiled if t is not None]
    if len(tests) != len(compiled):
        return None
    if op == "And":
        return lambda data, ctx: all(t(data, ctx) for t in tests)
    return lambda data, ctx: any(t(data, ctx) for t in tests)


def _variable(rule: dict, location: str, report: Report) -> Path | None:
    if not isinstance(rule.get("Variable"), str):
        report(location, "These fields are required: [Variable]")
        return None
    try:
        return Path(rule["Variable"])
    except PathSyntaxError as error:
        report(f"{location}/Variable", f"The value for the field 'Variable' must be a valid "
               f"JSONPath: {error}")
        return None


def _lookup(path: Path, data: Any, ctx: Any) -> Any:
    try:
        return path.find(data, ctx)
    except PathNotFound:
        raise DataFlowError(f"Invalid path '{path.text}': The choice state's condition path "
                            "references an invalid value.") from None


def _compile_comparison(op: str, operand: Any, variable: Path, location: str,
                        report: Report) -> Test | None:
    if op == "IsPresent" or op in _TYPE_TESTS:
        if not isinstance(operand, bool):
            report(location, f"The value for the field '{op}' must be a boolean")
            return None
        if op == "IsPresent":
            def present(data: Any, ctx: Any) -> bool:
                try:
                    variable.find(data, ctx)
                except PathNotFound:
                    return not operand
                return operand
            return present
        type_test = _TYPE_TESTS[op]
        return lambda data, ctx: type_test(_lookup(variable, data, ctx)) == operand
    family, relation = OPERATORS[op]
    accepts, convert = _FAMILIES[family]
    other = _operand(op, operand, family, location, report)
    if other is None:
        return None
    if relation == "Matches":
        pattern = _wildcard(operand)
        return lambda data, ctx: isinstance(value := _lookup(variable, data, ctx), str) and \
            pattern.fullmatch(value) is not None
    compare = _ORDER[relation]

    def test(data: Any, ctx: Any) -> bool:
        value, expected = _lookup(variable, data, ctx), other(data, ctx)
        return accepts(value) and accepts(expected) and compare(convert(value), convert(expected))
    return test


def _operand(op: str, operand: Any, family: str, location: str,
             report: Report) -> Callable[[Any, Any], Any] | None:
    if op.endswith("Path"):
        try:
            path = Path(operand) if isinstance(operand, str) else None
        except PathSyntaxError:
            path = None
        if path is None:
            report(location, f"The value for the field '{op}' must be a valid JSONPath")
            return None
        return lambda data, ctx: _lookup(path, data, ctx)
    accepts = _FAMILIES[family][0]
    if not accepts(operand):
        kind = {"String": "a string", "Numeric": "a number", "Boolean": "a boolean",
                "Timestamp": "an RFC 3339 timestamp string"}[family]
        report(location, f"The value for the field '{op}' must be {kind}")
        return None
    return lambda data, ctx: operand


def _wildcard(pattern: str) -> re.Pattern[str]:
    """StringMatches: `*` matches anything; `\\*` and `\\\\` are a literal `*` and `\\`."""
    parts, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            parts.append(".*" if pattern[i] == "*" else re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts), re.DOTALL)
