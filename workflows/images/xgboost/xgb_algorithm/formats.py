"""The built-in algorithm's two text formats, parsed for training files and request bodies.

`text/csv`: comma-separated numbers, no header; in training data the label is the first column
(then the instance weight when `csv_weights` is 1), at inference there is no label. An empty
cell or `nan` is a missing value, which XGBoost handles.
`text/libsvm`: `<label>[:<weight>] <index>:<value> ...`, indices from 0 as columns; at inference
the label is optional and ignored. An index left out is a missing value.

Every problem is a `DataError` naming the line and column (or token) and what is wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import orjson
from scipy import sparse

CSV = "text/csv"
LIBSVM = "text/libsvm"
# Bodies made only of these characters are JSON numbers between commas when wrapped in
# brackets: the fast path parses them with orjson (~50x the csv module).
NUMERIC_TEXT = re.compile(rb"[0-9eE+\-.,\t \r\n]*")
MISSING = ("", "nan")
FLOAT32_MAX = float(np.finfo(np.float32).max)  # XGBoost computes in float32


class DataError(ValueError):
    pass


@dataclass(frozen=True)
class Table:
    """Rows of features (dense float32, or CSR for libsvm), with labels and weights if given."""

    features: np.ndarray | sparse.csr_matrix
    labels: np.ndarray | None = None
    weights: np.ndarray | None = None

    @property
    def width(self) -> int:
        return self.features.shape[1]


def _number(line: int, column: str, text: str, missing_allowed: bool) -> float:
    cell = text.strip()
    if missing_allowed and cell.lower() in MISSING:
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        problem = "is missing" if not cell else f"{cell[:40]!r} is not a number"
        raise DataError(f"line {line}, {column}: {problem}") from None
    if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
        raise DataError(f"line {line}, {column}: {cell!r} is not a finite float32 number")
    return value


def _csv_fast(body: bytes) -> np.ndarray | None:
    """The rows of a plain numeric body, or None when the careful parser must look at it."""
    lines = body.splitlines()
    if not NUMERIC_TEXT.fullmatch(body) or not all(line.strip() for line in lines):
        return None
    try:
        rows = np.array(orjson.loads(b"[[" + b"],[".join(lines) + b"]]"), dtype=np.float32)
    except (orjson.JSONDecodeError, ValueError, TypeError):  # 1., .5, +1, empty cells, ragged
        return None
    return rows if rows.ndim == 2 and np.isfinite(rows).all() else None


def _csv_careful(text: str, lead: int) -> np.ndarray:
    """Every line checked: the message names the first bad line and column."""
    rows: list[list[float]] = []
    first = width = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split(",")
        if not rows:
            first, width = number, len(cells)
        elif len(cells) != width:
            raise DataError(f"line {number}: {len(cells)} values, line {first} has {width}; "
                            "every line needs the same columns")
        rows.append([_number(number, f"column {column}", cell, column > lead)
                     for column, cell in enumerate(cells, 1)])
    return np.array(rows, dtype=np.float32).reshape(len(rows), width)


def parse_csv(body: bytes, *, label: bool, weights: bool = False) -> Table:
    """CSV rows; with `label` the first column is the label (then the weight, with `weights`)."""
    lead = int(label) + int(label and weights)
    rows = _csv_fast(body.rstrip())
    if rows is None:
        rows = _csv_careful(_text(body), lead)
    if not len(rows):
        raise DataError("no rows: the CSV has only empty lines")
    if rows.shape[1] <= lead:
        raise DataError(f"line 1: {rows.shape[1]} column(s), need {lead} for the label"
                        f"{' and weight' if weights else ''} and at least one feature")
    return Table(features=rows[:, lead:], labels=rows[:, 0] if label else None,
                 weights=rows[:, 1] if lead == 2 else None)


def parse_libsvm(body: bytes, *, label: bool, width: int | None = None) -> Table:
    """libsvm lines. With `label` each line starts with `label[:weight]`; without, a first
    token without a colon is a label and ignored. `width` bounds the feature indices."""
    labels: list[float] = []
    weights: list[float] = []
    indptr, indices, values = [0], [], []
    for number, line in enumerate(_text(body).splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        if label:
            target, _, weight = tokens.pop(0).partition(":")
            labels.append(_number(number, "the label", target, missing_allowed=False))
            weights.append(_number(number, "the weight", weight, False) if weight else 1.0)
        elif ":" not in tokens[0]:
            tokens.pop(0)
        seen: set[int] = set()
        for token in tokens:
            index_text, colon, value = token.partition(":")
            if not colon or not index_text.isdigit():
                raise DataError(f"line {number}: {token[:40]!r} is not index:value (an index "
                                "from 0, e.g. 3:0.25)")
            index = int(index_text)
            if width is not None and index >= width:
                raise DataError(f"line {number}: feature index {index} is beyond the model's "
                                f"{width} features (indices 0 to {width - 1})")
            if index in seen:
                raise DataError(f"line {number}: feature index {index} appears twice")
            seen.add(index)
            indices.append(index)
            values.append(_number(number, f"feature {index}", value, missing_allowed=True))
        indptr.append(len(indices))
    if len(indptr) == 1:
        raise DataError("no rows: the libsvm data has only empty lines")
    columns = width if width is not None else max(indices, default=-1) + 1
    features = sparse.csr_matrix((np.array(values, dtype=np.float32), indices, indptr),
                                 shape=(len(indptr) - 1, columns))
    return Table(features=features, labels=np.array(labels, dtype=np.float32) if label else None,
                 weights=np.array(weights, dtype=np.float32) if label else None)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"not UTF-8 text: {error.reason} at byte {error.start}") from None
