"""The built-in algorithm's hyperparameters: SageMaker passes every value as a string; each is
parsed and checked against its documented range before XGBoost sees it, so that a typo fails
the job with the name, the value and what is accepted (XGBoost itself ignores unknown names
and reports bad values from deep inside its C++ core)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import orjson

from xgb_algorithm.job import JobFailure

Value = int | float | str | list[str]

OBJECTIVES = (
    "reg:squarederror", "reg:squaredlogerror", "reg:logistic", "reg:pseudohubererror",
    "reg:absoluteerror", "reg:gamma", "reg:tweedie", "binary:logistic", "binary:logitraw",
    "binary:hinge", "count:poisson", "survival:cox", "multi:softmax", "multi:softprob",
    "rank:pairwise", "rank:ndcg", "rank:map",
    "reg:linear",  # the old name of reg:squarederror, still in older notebooks
)
# eval_metric names; `error@0.6`, `ndcg@5`, `map@3-` and the like take a parameter.
METRIC = re.compile(r"(rmse|rmsle|mae|mape|mphe|logloss|error|merror|mlogloss|auc|aucpr|ndcg"
                    r"|map|poisson-nloglik|gamma-nloglik|cox-nloglik|gamma-deviance"
                    r"|tweedie-nloglik)(@[0-9.]+-?|-)?")
# Keys SageMaker adds for its own use: the SDK's sagemaker_* and a tuning job's objective.
RESERVED = re.compile(r"sagemaker_.*|_tuning_objective_metric")


@dataclass(frozen=True)
class Number:
    integer: bool
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False  # the bound itself is excluded
    open_high: bool = False

    def expected(self) -> str:
        kind = "an integer" if self.integer else "a number"
        low = f"{'>' if self.open_low else '>='} {self.low:g}" if self.low > -math.inf else ""
        high = f"{'<' if self.open_high else '<='} {self.high:g}" if self.high < math.inf else ""
        return " ".join(part for part in (kind, low, "and" if low and high else "", high) if part)

    def parse(self, name: str, value: object) -> int | float:
        text = str(value).strip() if isinstance(value, str | int | float) else ""
        try:
            if isinstance(value, bool) or not text:
                raise ValueError
            number = float(text) if not self.integer else int(float(text))
            if self.integer and number != float(text):
                raise ValueError
        except (ValueError, OverflowError):
            raise JobFailure(f"hyperparameter {name}={value!r} is not {self.expected()}") from None
        if (not math.isfinite(number) or number < self.low or number > self.high
                or (self.open_low and number == self.low)
                or (self.open_high and number == self.high)):
            raise JobFailure(f"hyperparameter {name}={value!r} is out of range: expected "
                             f"{self.expected()}")
        return number


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]

    def parse(self, name: str, value: object) -> str:
        text = str(value).strip()
        if text not in self.options:
            raise JobFailure(f"hyperparameter {name}={value!r} is not one of "
                             f"{', '.join(self.options)}")
        return text


@dataclass(frozen=True)
class Metrics:
    def parse(self, name: str, value: object) -> list[str]:
        names = [part.strip() for part in str(value).split(",")]
        wrong = [metric for metric in names if not METRIC.fullmatch(metric)]
        if wrong or not names:
            raise JobFailure(f"hyperparameter {name}={value!r}: {', '.join(wrong)} is not an "
                             "XGBoost evaluation metric (rmse, mae, logloss, error, auc, ...; "
                             "several are separated by commas)")
        return names


UNIT = Number(integer=False, low=0, high=1)
FRACTION = Number(integer=False, low=0, high=1, open_low=True)  # a sampling ratio: > 0
NON_NEGATIVE = Number(integer=False, low=0)
SPECS: dict[str, Number | Choice | Metrics] = {
    "num_round": Number(integer=True, low=1),
    "num_class": Number(integer=True, low=2),
    "early_stopping_rounds": Number(integer=True, low=1),
    "csv_weights": Choice(("0", "1")),  # 1: CSV rows are label, instance weight, features
    "objective": Choice(OBJECTIVES),
    "eval_metric": Metrics(),
    "booster": Choice(("gbtree", "gblinear", "dart")),
    "tree_method": Choice(("auto", "exact", "approx", "hist")),
    "grow_policy": Choice(("depthwise", "lossguide")),
    "eta": UNIT,
    "gamma": NON_NEGATIVE,
    "max_depth": Number(integer=True, low=0),
    "max_leaves": Number(integer=True, low=0),
    "max_bin": Number(integer=True, low=2),
    "min_child_weight": NON_NEGATIVE,
    "max_delta_step": NON_NEGATIVE,
    "subsample": FRACTION,
    "colsample_bytree": FRACTION,
    "colsample_bylevel": FRACTION,
    "colsample_bynode": FRACTION,
    "lambda": NON_NEGATIVE,
    "alpha": NON_NEGATIVE,
    "scale_pos_weight": Number(integer=False, low=0, open_low=True),
    "base_score": Number(integer=False),
    "tweedie_variance_power": Number(integer=False, low=1, high=2, open_low=True,
                                     open_high=True),
    "sample_type": Choice(("uniform", "weighted")),
    "normalize_type": Choice(("tree", "forest")),
    "rate_drop": UNIT,
    "skip_drop": UNIT,
    "one_drop": Choice(("0", "1")),
    "seed": Number(integer=True, low=0, high=2**31 - 1),
    "verbosity": Number(integer=True, low=0, high=3),
}
# Settings of the job, not of XGBoost's booster.
JOB_SETTINGS = ("num_round", "early_stopping_rounds", "csv_weights")


@dataclass(frozen=True)
class Hyperparameters:
    num_round: int
    early_stopping_rounds: int | None
    csv_weights: bool
    booster: dict[str, Value]  # what xgboost.train takes as params

    @classmethod
    def parse(cls, raw: dict[str, object]) -> Hyperparameters:
        unknown = sorted(key for key in raw if key not in SPECS and not RESERVED.fullmatch(key))
        if unknown:
            raise JobFailure(f"unknown hyperparameter(s) {', '.join(unknown)}; accepted: "
                             f"{', '.join(sorted(SPECS))}")
        if "num_round" not in raw:
            raise JobFailure("hyperparameter num_round is required: the number of boosting "
                             "rounds, e.g. \"100\"")
        values = {name: SPECS[name].parse(name, value) for name, value in raw.items()
                  if name in SPECS}
        objective = str(values.get("objective", ""))
        if objective.startswith("multi:") and "num_class" not in values:
            raise JobFailure(f"objective {objective} needs the hyperparameter num_class "
                             "(the number of classes, labels 0 to num_class - 1)")
        if objective == "reg:linear":
            values["objective"] = "reg:squarederror"
        # Both are parsed by integer Number specs.
        return cls(num_round=cast(int, values["num_round"]),
                   early_stopping_rounds=cast(int | None, values.get("early_stopping_rounds")),
                   csv_weights=values.get("csv_weights") == "1",
                   booster={name: value for name, value in values.items()
                            if name not in JOB_SETTINGS})


def load(path: Path) -> Hyperparameters:
    """The hyperparameters in SageMaker's hyperparameters.json (num_round at least)."""
    if not path.exists():
        raise JobFailure(f"no {path}: the training job needs hyperparameters, num_round at least")
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise JobFailure(f"{path} is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise JobFailure(f"{path} must hold a JSON object of name: value")
    return Hyperparameters.parse(raw)
