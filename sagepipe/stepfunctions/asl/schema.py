"""Field-level validation and compilation of one state: what fields its Type allows and
requires, and what each field's value must be. Problems go to a `Checker` (with the JSON
location AWS reports, `/States/X/Field`) so that one pass reports every problem at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sagepipe.stepfunctions.asl.errors import Diagnostic, PathSyntaxError
from sagepipe.stepfunctions.asl.intrinsics import IntrinsicSyntaxError
from sagepipe.stepfunctions.asl.paths import Path, reference_path
from sagepipe.stepfunctions.asl.payload import ROOT, Template, compile_expression

SCHEMA = "SCHEMA_VALIDATION_FAILED"

_COMMON = {"Type", "Comment", "QueryLanguage"}
_IO = {"InputPath", "OutputPath"}
_FLOW = {"Next", "End"}
_RESULT = {"ResultPath", "Parameters", "ResultSelector", "Retry", "Catch"}
FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | _FLOW | {"ResultPath", "Parameters", "Result"},
    "Task": _COMMON | _IO | _FLOW | _RESULT | {
        "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
        "HeartbeatSecondsPath", "Credentials"},
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | _FLOW | _RESULT | {"Branches"},
    "Map": _COMMON | _IO | _FLOW | _RESULT | {
        "Iterator", "ItemProcessor", "ItemsPath", "ItemSelector", "ItemReader", "ItemBatcher",
        "ResultWriter", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath",
        "Label"},
}
REQUIRED = {"Task": ["Resource"], "Choice": ["Choices"], "Parallel": ["Branches"]}
TERMINAL_TYPES = {"Choice", "Succeed", "Fail"}
# Fields of the JSONata query language and of workflow variables: valid in AWS, not emulated.
NOT_EMULATED = {"Arguments", "Output", "Assign", "Items", "Condition"}
JSONATA_MESSAGE = ("QueryLanguage 'JSONata' is not emulated by the local Step Functions: "
                   "write this state machine with JSONPath (the default query language)")


@dataclass
class Checker:
    """Collects diagnostics; `ok` says whether none was an error."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, location: str, message: str, code: str = SCHEMA) -> None:
        self.diagnostics.append(Diagnostic(code, message, location))

    def warning(self, location: str, message: str, code: str) -> None:
        """A finding that does not stop the definition from being created."""
        self.diagnostics.append(Diagnostic(code, message, location, severity="WARNING"))

    @property
    def ok(self) -> bool:
        return not any(d.severity == "ERROR" for d in self.diagnostics)


def check_fields(raw: dict, allowed: set[str], location: str, check: Checker) -> None:
    """Report each field the object may not have (with a clear word for JSONata's fields)."""
    for name in raw:
        if name in allowed:
            continue
        if name in NOT_EMULATED:
            check.error(f"{location}/{name}", f"The field '{name}' (JSONata or workflow "
                        "variables) is not emulated by the local Step Functions")
        else:
            check.error(f"{location}/{name}",
                        f"The field \"{name}\" is not supported by Step Functions")


def check_query_language(raw: dict, location: str, check: Checker) -> None:
    language = raw.get("QueryLanguage", "JSONPath")
    if language == "JSONata":
        check.error(f"{location}/QueryLanguage", JSONATA_MESSAGE)
    elif language != "JSONPath":
        check.error(f"{location}/QueryLanguage", "The value for the field 'QueryLanguage' "
                    f"must be JSONPath or JSONata, not {language!r}")


class Fields:
    """Typed reads of one JSON object's fields, reporting bad values at their location."""

    def __init__(self, raw: dict, location: str, check: Checker) -> None:
        self.raw, self.location, self.check = raw, location, check

    def bad(self, name: str, must: str) -> None:
        self.check.error(f"{self.location}/{name}",
                         f"The value for the field '{name}' must be {must}")

    def string(self, name: str) -> str | None:
        value = self.raw.get(name)
        if name in self.raw and not isinstance(value, str):
            self.bad(name, "a STRING")
            return None
        return value

    def integer(self, name: str, minimum: int = 0, default: Any = None) -> Any:
        value = self.raw.get(name, default)
        if name in self.raw and (not isinstance(value, int) or isinstance(value, bool)
                                 or value < minimum):
            self.bad(name, f"an integer of at least {minimum}")
            return default
        return value

    def number(self, name: str, minimum: float, maximum: float | None = None,
               default: Any = None) -> Any:
        value = self.raw.get(name, default)
        if name in self.raw and (not isinstance(value, int | float) or isinstance(value, bool)
                                 or value < minimum or (maximum is not None and value > maximum)):
            self.bad(name, f"a number from {minimum}" + (f" to {maximum}" if maximum else ""))
            return default
        return value

    def path(self, name: str, reference: bool = False, definite: bool = False,
             nullable: bool = False, default: Path | None = ROOT) -> Path | None:
        """A path field; for nullable ones (InputPath...) an explicit null gives None."""
        if name not in self.raw:
            return default
        value = self.raw[name]
        if value is None and nullable:
            return None
        try:
            path = reference_path(value) if reference else Path(value)
        except PathSyntaxError as error:
            kind = "a valid reference path" if reference else "a valid JSONPath"
            self.bad(name, f"{kind}: {error}")
            return default
        if definite and not path.definite:
            self.bad(name, "a JSONPath that selects a single value")
        return ROOT if path.text == "$" else path

    def expression(self, name: str) -> Any:
        """A path or an intrinsic call (Fail's ErrorPath and CausePath)."""
        value = self.raw.get(name)
        if not isinstance(value, str):
            self.bad(name, "a valid JSONPath or intrinsic function")
            return None
        try:
            return compile_expression(value)
        except (PathSyntaxError, IntrinsicSyntaxError) as error:
            self.bad(name, f"a valid JSONPath or intrinsic function: {error}")
            return None

    def template(self, name: str, must_be_object: bool = False) -> Template | None:
        if name not in self.raw:
            return None
        value = self.raw[name]
        if must_be_object and not isinstance(value, dict):
            self.bad(name, "a JSON object")
            return None
        return Template(value) if _check_template(value, f"{self.location}/{name}",
                                                  self.check) else None

    def either(self, first: str, second: str, required: bool = False) -> str | None:
        """The one of two mutually exclusive fields present (`None` if neither)."""
        present = [n for n in (first, second) if n in self.raw]
        if len(present) == 2:
            self.check.error(self.location, f"The fields '{first}' and '{second}' are "
                             "mutually exclusive")
        elif not present and required:
            self.check.error(self.location, f"These fields are required: [{first} or {second}]")
        return present[0] if present else None

    def integer_or_path(self, name: str, minimum: int = 0) -> Any:
        """`Name` (an integer) or `NamePath` (a path to one); None if neither is given."""
        chosen = self.either(name, name + "Path")
        if chosen == name:
            return self.integer(name, minimum)
        if chosen:
            return self.path(chosen, definite=True, default=None)
        return None


def _check_template(node: Any, location: str, check: Checker) -> bool:
    ok = True
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{location}/{key}"
            if key.endswith(".$"):
                ok = _check_expression(key, value, where, check) and ok
            else:
                ok = _check_template(value, where, check) and ok
    elif isinstance(node, list):
        for index, item in enumerate(node):
            ok = _check_template(item, f"{location}/{index}", check) and ok
    return ok


def _check_expression(key: str, value: Any, location: str, check: Checker) -> bool:
    must = f"The value for the field '{key}' must be a valid JSONPath or a valid intrinsic " \
        "function call"
    if not isinstance(value, str):
        check.error(location, must)
        return False
    try:
        compile_expression(value)
    except (PathSyntaxError, IntrinsicSyntaxError) as error:
        check.error(location, f"{must}: {error}")
        return False
    return True


def each_object(value: Any, name: str, fields: Fields,
                compile_one: Callable[[dict, str], Any]) -> list[Any]:
    """Compile every object of an array field (Retry, Catch, Branches) with its location."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        fields.bad(name, "an array of JSON objects")
        return []
    compiled = [compile_one(item, f"{fields.location}/{name}/{i}") for i, item in
                enumerate(value)]
    return [c for c in compiled if c is not None]
