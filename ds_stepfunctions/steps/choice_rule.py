"""Choice rules: `ChoiceRule.NumericLessThanEquals(variable=step.output()["rmse"], value=50)`.

Every ASL comparison operator is a `ChoiceRule` class method of the same name, taking
`variable` (a path or a placeholder) and `value`. For the `...Path` operators the value is a path;
a placeholder given to a plain operator turns it into its `...Path` twin (`StringEquals` with
`value=execution_input["Expected"]` emits `StringEqualsPath`). `And`, `Or` and `Not` compound.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from ds_stepfunctions.inputs.placeholders import Reference
from ds_stepfunctions.steps.payload import render_path, render_value

# The literal each operator family compares with (the Is* tests take a boolean).
VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "String": (str,),
    "Numeric": (int, float),
    "Boolean": (bool,),
    "Timestamp": (str,),
    "Is": (bool,),
}


class BaseRule:
    """A rule of a Choice state."""

    def to_dict(self, where: str = "ChoiceRule") -> dict[str, Any]:
        raise NotImplementedError

    def __str__(self) -> str:
        return str(self.to_dict())


class Rule(BaseRule):
    """`variable <operator> value`."""

    def __init__(self, variable: str | Reference, operator: str, value: Any) -> None:
        if operator not in OPERATORS:
            raise ValueError(f"Unknown choice operator {operator!r}")
        if not isinstance(variable, Reference) and not (
                isinstance(variable, str) and variable.startswith("$")):
            raise ValueError("Expected variable must be a placeholder or must start with '$', "
                             f"but got '{variable}'")
        if isinstance(value, Reference) and not operator.endswith("Path"):
            if f"{operator}Path" not in OPERATORS:
                raise ValueError(f"{operator} compares with a literal; it has no Path form for "
                                 f"the placeholder {value.to_jsonpath()}")
            operator = f"{operator}Path"
        if operator.endswith("Path"):
            if not isinstance(value, Reference) and not (
                    isinstance(value, str) and value.startswith("$")):
                raise ValueError("Expected value must be a placeholder or must start with '$', "
                                 f"but got '{value}'")
        else:
            kind = next(k for k in VALUE_TYPES if operator.startswith(k))
            expected = VALUE_TYPES[kind]
            wrong_bool = isinstance(value, bool) and bool not in expected
            if not isinstance(value, expected) or wrong_bool:
                raise ValueError(f"Expected value to be a {kind}, but got {value!r}")
        self.variable = variable
        self.operator = operator
        self.value = value

    def to_dict(self, where: str = "ChoiceRule") -> dict[str, Any]:
        value = (render_path(self.value, f"{where}.{self.operator}")
                 if self.operator.endswith("Path")
                 else render_value(self.value, f"{where}.{self.operator}"))
        return {"Variable": render_path(self.variable, f"{where}.Variable"),
                self.operator: value}

    def __repr__(self) -> str:
        return (f"Rule(variable={self.variable!r}, operator={self.operator!r}, "
                f"value={self.value!r})")


class CompoundRule(BaseRule):
    """`And` / `Or` of rules."""

    def __init__(self, operator: str, rules: list[BaseRule]) -> None:
        for rule in rules:
            if not isinstance(rule, BaseRule):
                raise ValueError(f"Rule '{rule}' is invalid")
        if not rules:
            raise ValueError(f"{operator} needs at least one rule")
        self.operator = operator
        self.rules = rules

    def to_dict(self, where: str = "ChoiceRule") -> dict[str, Any]:
        return {self.operator: [r.to_dict(f"{where}.{self.operator}[{i}]")
                                for i, r in enumerate(self.rules)]}

    def __repr__(self) -> str:
        return f"CompoundRule(operator={self.operator!r}, rules={self.rules!r})"


class NotRule(BaseRule):
    """The negation of a rule."""

    def __init__(self, rule: BaseRule) -> None:
        if not isinstance(rule, BaseRule):
            raise ValueError(f"Rule '{rule}' is invalid")
        self.rule = rule

    def to_dict(self, where: str = "ChoiceRule") -> dict[str, Any]:
        return {"Not": self.rule.to_dict(f"{where}.Not")}

    def __repr__(self) -> str:
        return f"NotRule(rule={self.rule!r})"


class _Comparison(Protocol):
    """A ChoiceRule operator method: `ChoiceRule.StringEquals(variable=..., value=...)`."""

    def __call__(self, variable: str | Reference, value: Any) -> Rule: ...


class ChoiceRule:
    """Factory of rules: one class method per ASL comparison operator, plus And, Or and Not.

    The operators are declared here, by their ASL names, so that a type checker or an editor
    knows them; the methods are made below the class (`_operator_method`).
    """

    StringEquals: ClassVar[_Comparison]
    StringEqualsPath: ClassVar[_Comparison]
    StringLessThan: ClassVar[_Comparison]
    StringLessThanPath: ClassVar[_Comparison]
    StringGreaterThan: ClassVar[_Comparison]
    StringGreaterThanPath: ClassVar[_Comparison]
    StringLessThanEquals: ClassVar[_Comparison]
    StringLessThanEqualsPath: ClassVar[_Comparison]
    StringGreaterThanEquals: ClassVar[_Comparison]
    StringGreaterThanEqualsPath: ClassVar[_Comparison]
    NumericEquals: ClassVar[_Comparison]
    NumericEqualsPath: ClassVar[_Comparison]
    NumericLessThan: ClassVar[_Comparison]
    NumericLessThanPath: ClassVar[_Comparison]
    NumericGreaterThan: ClassVar[_Comparison]
    NumericGreaterThanPath: ClassVar[_Comparison]
    NumericLessThanEquals: ClassVar[_Comparison]
    NumericLessThanEqualsPath: ClassVar[_Comparison]
    NumericGreaterThanEquals: ClassVar[_Comparison]
    NumericGreaterThanEqualsPath: ClassVar[_Comparison]
    TimestampEquals: ClassVar[_Comparison]
    TimestampEqualsPath: ClassVar[_Comparison]
    TimestampLessThan: ClassVar[_Comparison]
    TimestampLessThanPath: ClassVar[_Comparison]
    TimestampGreaterThan: ClassVar[_Comparison]
    TimestampGreaterThanPath: ClassVar[_Comparison]
    TimestampLessThanEquals: ClassVar[_Comparison]
    TimestampLessThanEqualsPath: ClassVar[_Comparison]
    TimestampGreaterThanEquals: ClassVar[_Comparison]
    TimestampGreaterThanEqualsPath: ClassVar[_Comparison]
    StringMatches: ClassVar[_Comparison]
    BooleanEquals: ClassVar[_Comparison]
    BooleanEqualsPath: ClassVar[_Comparison]
    IsNull: ClassVar[_Comparison]
    IsPresent: ClassVar[_Comparison]
    IsNumeric: ClassVar[_Comparison]
    IsString: ClassVar[_Comparison]
    IsBoolean: ClassVar[_Comparison]
    IsTimestamp: ClassVar[_Comparison]

    @classmethod
    def And(cls, rules: list[BaseRule]) -> CompoundRule:  # noqa: N802 - the ASL name
        return CompoundRule("And", rules)

    @classmethod
    def Or(cls, rules: list[BaseRule]) -> CompoundRule:  # noqa: N802 - the ASL name
        return CompoundRule("Or", rules)

    @classmethod
    def Not(cls, rule: BaseRule) -> NotRule:  # noqa: N802 - the ASL name
        return NotRule(rule)


def _operator_method(operator: str) -> classmethod:
    def make(cls: type, variable: str | Reference, value: Any) -> Rule:
        return Rule(variable, operator, value)

    make.__name__ = make.__qualname__ = operator
    make.__doc__ = f"A rule `variable {operator} value`."
    return classmethod(make)


# Every comparison operator of ASL, in the order of the declarations above.
OPERATORS = tuple(ChoiceRule.__annotations__)
for _operator in OPERATORS:
    setattr(ChoiceRule, _operator, _operator_method(_operator))
