"""Training hyperparameters: SageMaker passes every value as a string; parse and bound them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from titanic.job import JobFailure


@dataclass(frozen=True)
class Integer:
    default: int | None
    minimum: int
    maximum: int
    none_allowed: bool = False  # "None" (or empty) means no limit

    def expected(self) -> str:
        return (f"an integer from {self.minimum} to {self.maximum}"
                + (" or None" if self.none_allowed else ""))

    def parse(self, name: str, value: object) -> int | None:
        text = value.strip() if isinstance(value, str) else value
        if self.none_allowed and text in (None, "", "None", "none", "null"):
            return None
        try:
            if isinstance(text, bool) or not isinstance(text, str | int):
                raise ValueError
            number = int(text)
        except ValueError:
            raise JobFailure(f"hyperparameter {name}={value!r} is not an integer; "
                             f"expected {self.expected()}") from None
        if not self.minimum <= number <= self.maximum:
            raise JobFailure(f"hyperparameter {name}={number} is out of range; "
                             f"expected {self.expected()}")
        return number


# The RandomForestClassifier settings a training job may set.
SPECS = {
    "n_estimators": Integer(100, 1, 5000),
    "max_depth": Integer(None, 1, 1000, none_allowed=True),
    "min_samples_leaf": Integer(1, 1, 100_000),
    "random_state": Integer(42, 0, 2**32 - 1),
}
# Keys SageMaker's SDK adds for its own use (sagemaker_region, sagemaker_job_name, ...).
RESERVED_PREFIX = "sagemaker_"


def parse(raw: dict[str, object]) -> dict[str, int | None]:
    unknown = sorted(key for key in raw if key not in SPECS and not key.startswith(RESERVED_PREFIX))
    if unknown:
        raise JobFailure(f"unknown hyperparameter(s) {', '.join(unknown)}; "
                         f"accepted: {', '.join(SPECS)}")
    return {name: spec.parse(name, raw[name]) if name in raw else spec.default
            for name, spec in SPECS.items()}


def load(path: Path) -> dict[str, int | None]:
    """The hyperparameters in SageMaker's hyperparameters.json; defaults when there is none."""
    if not path.exists():
        print(f"train: no {path}; using default hyperparameters")
        return parse({})
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise JobFailure(f"{path} is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise JobFailure(f"{path} must hold a JSON object of name: value")
    return parse(raw)
