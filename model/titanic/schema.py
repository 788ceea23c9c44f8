"""The raw data schema and the rules for one valid field, shared by preparation and serving.

Every rule raises `FieldError` naming the column and the offending value, so callers only add
where the value came from (file and line, CSV line, JSON instance).
"""

from __future__ import annotations

import math

LABEL = "Survived"
FEATURES = ("Pclass", "Sex", "Age")
RAW_COLUMNS = (LABEL, *FEATURES)
PASSENGER_CLASSES = (1, 2, 3)
SEXES = ("female", "male")
MAX_AGE = 120.0

Scalar = str | int | float | None


class FieldError(ValueError):
    """One field breaks the schema; the message says which column and why."""

    def __init__(self, column: str, problem: str) -> None:
        super().__init__(f"column {column}: {problem}")
        self.column = column
        self.problem = problem


def _number(column: str, value: Scalar) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(column, f"{value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise FieldError(column, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise FieldError(column, f"{value!r} is not a finite number")
    return number


def _choice(column: str, value: float, allowed: tuple[int, ...]) -> int:
    if value not in allowed:
        expected = ", ".join(map(str, allowed))
        raise FieldError(column, f"{value:g} is not one of {expected}")
    return int(value)


def parse_pclass(value: Scalar) -> int:
    return _choice("Pclass", _number("Pclass", value), PASSENGER_CLASSES)


def parse_survived(value: Scalar) -> int:
    return _choice(LABEL, _number(LABEL, value), (0, 1))


def parse_sex(value: Scalar) -> str:
    sex = value.strip().lower() if isinstance(value, str) else value
    if sex not in SEXES:
        raise FieldError("Sex", f"{value!r} is not one of {', '.join(SEXES)}")
    return sex


def parse_age(value: Scalar) -> float | None:
    """An age in years, or None when missing (empty text or null): the model imputes it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    age = _number("Age", value)
    if not 0 <= age <= MAX_AGE:
        raise FieldError("Age", f"{age:g} is outside 0 to {MAX_AGE:g} years")
    return age


Passenger = tuple[int, str, float | None]


def parse_passenger(pclass: Scalar, sex: Scalar, age: Scalar) -> Passenger:
    """The model's inputs (Pclass, Sex, Age) checked against the raw schema."""
    return parse_pclass(pclass), parse_sex(sex), parse_age(age)
