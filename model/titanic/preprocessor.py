"""Turning passengers into the model's feature matrix with what was learnt from the TRAIN split.

Fitted once, on the training split only (prepare), saved as JSON beside the model (train) and
reused as is at inference: inference data never refits it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from titanic.schema import FEATURES, FieldError, Passenger, Scalar, parse_passenger

FORMAT = "titanic-preprocessor/1"


class PreprocessorError(ValueError):
    """A preprocessor file that cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Preprocessor:
    age_fill: float  # median Age of the training passengers, for a missing Age
    pclass_categories: tuple[int, ...]  # passenger classes seen in training, fed as numbers
    sex_codes: dict[str, int]  # Sex category -> code, in sorted category order

    @classmethod
    def fit(cls, passengers: Sequence[Passenger]) -> Preprocessor:
        ages = [age for _, _, age in passengers if age is not None]
        if not ages:
            raise ValueError("no passenger of the training split has an Age to impute from")
        sexes = sorted({sex for _, sex, _ in passengers})
        return cls(age_fill=float(statistics.median(ages)),
                   pclass_categories=tuple(sorted({pclass for pclass, _, _ in passengers})),
                   sex_codes={sex: code for code, sex in enumerate(sexes)})

    def parse(self, pclass: Scalar, sex: Scalar, age: Scalar) -> Passenger:
        """Check one passenger against the schema and against the categories seen in training."""
        passenger = parse_passenger(pclass, sex, age)
        if passenger[0] not in self.pclass_categories:
            raise FieldError("Pclass", f"{passenger[0]} did not occur in the training data "
                                       f"(known: {', '.join(map(str, self.pclass_categories))})")
        if passenger[1] not in self.sex_codes:
            raise FieldError("Sex", f"{passenger[1]!r} did not occur in the training data "
                                    f"(known: {', '.join(self.sex_codes)})")
        return passenger

    def transform(self, passengers: Sequence[Passenger]) -> np.ndarray:
        """Features (Pclass, Sex code, Age or its fill), float64 holding float32 values.

        scikit-learn's trees compare float32 features with float64 thresholds; the ONNX model
        takes doubles and keeps double thresholds, so rounding through float32 here makes it
        follow exactly the same branches as the scikit-learn forest.
        """
        rows = [(pclass, self.sex_codes[sex], self.age_fill if age is None else age)
                for pclass, sex, age in passengers]
        return np.asarray(rows, dtype=np.float32).reshape(-1, len(FEATURES)).astype(np.float64)

    def to_json(self) -> bytes:
        return orjson.dumps({"format": FORMAT, "features": FEATURES, "age_fill": self.age_fill,
                             "pclass_categories": self.pclass_categories,
                             "sex_codes": self.sex_codes}, option=orjson.OPT_INDENT_2)

    @classmethod
    def load(cls, path: Path) -> Preprocessor:
        try:
            document = orjson.loads(path.read_bytes())
        except OSError as error:
            raise PreprocessorError(f"cannot read preprocessor {path}: {error.strerror}") from None
        except orjson.JSONDecodeError as error:
            raise PreprocessorError(f"preprocessor {path} is not JSON: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise PreprocessorError(f"{path} is not a {FORMAT} file (written by `prepare`)")
        try:
            preprocessor = cls(age_fill=float(document["age_fill"]),
                               pclass_categories=tuple(map(int, document["pclass_categories"])),
                               sex_codes={str(k): int(v) for k, v in document["sex_codes"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PreprocessorError(f"preprocessor {path} is incomplete or malformed: "
                                    f"{type(error).__name__}: {error}") from None
        if sorted(preprocessor.sex_codes.values()) != list(range(len(preprocessor.sex_codes))):
            raise PreprocessorError(f"preprocessor {path}: sex_codes must number 0..n-1")
        return preprocessor
