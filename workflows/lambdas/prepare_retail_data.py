"""Lambda: the retail data preparation. Raw Online Retail rows -> XGBoost's CSV channels.

Event: {"RawData": "s3://bucket/key.csv", "Output": "s3://bucket/prefix"}
Writes <Output>/train/train.csv and validation/validation.csv (the label UnitPrice first, no
header, as XGBoost's text/csv channels take them) and test/test.csv (features only: what the
batch inference scores). Returns their S3 prefixes, the row counts and what was dropped.

Rows dropped: cancellations (InvoiceNo `C...`), non-positive Quantity or UnitPrice, no
CustomerID, and malformed rows (counted, the first few quoted). The split keeps each invoice
whole (by a CRC-32 of InvoiceNo: 70 % train, 15 % validation, 15 % test), so that no invoice
leaks between training and evaluation. Text columns become stable numbers (CRC-32), the same in
every file, so a later batch encodes as the training data did.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections import Counter
from datetime import datetime
from functools import cache
from typing import Any

import boto3

COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
           "CustomerID", "Country")
FEATURES = ("Quantity", "StockCodeNumber", "StockCodeVariant", "Kind", "FirstWord", "Words",
            "Month", "Weekday", "Hour", "Country")
SPLITS = (("train", 70), ("validation", 85), ("test", 100))  # cumulative percentages
DATE_FORMATS = ("%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M:%S")  # the CSV export, and ISO
QUOTED_PROBLEMS = 10


class BadInput(Exception):
    """The raw data cannot be prepared at all (not the Online Retail schema, nothing left)."""


@cache
def _s3() -> Any:
    return boto3.client("s3")


def code(text: str) -> int:
    """A text as a number that is the same in every file and run."""
    return zlib.crc32(text.strip().upper().encode()) % 100_003


def features(row: dict[str, str]) -> list[float]:
    """The model's inputs for one clean row, in FEATURES order."""
    stock = row["StockCode"].strip().upper()
    digits = "".join(c for c in stock if c.isdigit())
    words = row["Description"].split()
    when = _date(row["InvoiceDate"])
    return [float(row["Quantity"]), float(digits or 0), float(code(stock[len(digits):])),
            float(code(" ".join(words[-2:]))), float(code(words[0])), float(len(words)),
            float(when.month), float(when.weekday()), float(when.hour),
            float(code(row["Country"]))]


def _date(text: str) -> datetime:
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
    raise ValueError(f"InvoiceDate {text!r} is not like 12/1/2010 8:26")


def split_of(invoice: str) -> str:
    share = zlib.crc32(invoice.encode()) % 100
    return next(name for name, upto in SPLITS if share < upto)


def prepare(raw: bytes) -> tuple[dict[str, list[list[float]]], dict[str, Any]]:
    """Rows per split (label first for train and validation) and the counts of what happened."""
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BadInput(f"the raw data lacks the column(s) {', '.join(missing)}; Online Retail "
                       f"rows have {','.join(COLUMNS)}")
    splits: dict[str, list[list[float]]] = {name: [] for name, _ in SPLITS}
    dropped: Counter[str] = Counter()
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        try:
            if row["InvoiceNo"].strip().upper().startswith("C"):
                dropped["cancellation"] += 1
                continue
            quantity, price = float(row["Quantity"]), float(row["UnitPrice"])
            if quantity <= 0 or price <= 0:
                dropped["non-positive quantity or price"] += 1
                continue
            if not (row["CustomerID"] or "").strip():
                dropped["no CustomerID"] += 1
                continue
            values = features(row)
        except (ValueError, TypeError, AttributeError, IndexError) as error:
            dropped["malformed"] += 1
            if len(problems) < QUOTED_PROBLEMS:
                problems.append(f"line {line}: {error}")
            continue
        name = split_of(row["InvoiceNo"].strip())
        splits[name].append(values if name == "test" else [price, *values])
    empty = [name for name, rows in splits.items() if not rows]
    if empty:
        raise BadInput(f"no usable row for {', '.join(empty)} ({sum(dropped.values())} dropped: "
                       f"{dict(dropped)}; {'; '.join(problems) or 'no malformed row'})")
    return splits, {"Rows": {name: len(rows) for name, rows in splits.items()},
                    "Dropped": dict(dropped), "Problems": problems,
                    "Features": list(FEATURES), "Label": "UnitPrice"}


def _csv(rows: list[list[float]]) -> bytes:
    return "".join(",".join(repr(v) for v in row) + "\n" for row in rows).encode()


def _location(uri: object, what: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://") or "/" not in uri[5:]:
        raise BadInput(f"{what} must be an s3://bucket/key URI, not {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, key = _location(event.get("RawData"), "RawData")
    out_bucket, out_prefix = _location(event.get("Output"), "Output")
    s3 = _s3()
    raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    splits, summary = prepare(raw)
    result: dict[str, Any] = {}
    for name, rows in splits.items():
        prefix = f"{out_prefix.rstrip('/')}/{name}"
        s3.put_object(Bucket=out_bucket, Key=f"{prefix}/{name}.csv", Body=_csv(rows))
        result[name.title()] = f"s3://{out_bucket}/{prefix}/"
    return {**result, **summary}
