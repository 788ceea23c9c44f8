"""Request bodies of `/invocations` -> passengers, and predictions -> response bodies.

Every problem with a body is a `PayloadError` whose message says where (CSV line or JSON
instance, and column) and what is wrong, for a 400 answer.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence

import orjson

from titanic.schema import FEATURES, LABEL, RAW_COLUMNS, FieldError, Passenger, Scalar

CSV = "text/csv"
JSON = "application/json"
COLUMNS = ",".join(FEATURES)
REQUIRED_FIELDS = ("Pclass", "Sex")  # of a JSON record: Age may be left out (imputed)

Parse = Callable[[Scalar, Scalar, Scalar], Passenger]


class PayloadError(ValueError):
    pass


def decode(body: bytes) -> str:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PayloadError(f"body is not UTF-8 text: {error.reason} at byte {error.start}"
                           ) from None
    if not text.strip():
        raise PayloadError("empty body: send at least one passenger")
    return text


def _header(cells: list[str], line: int) -> list[int] | None:
    """Column positions of Pclass, Sex, Age if `cells` is a header line, else None."""
    names = [cell.strip().lower() for cell in cells]
    wanted = [name.lower() for name in FEATURES]
    if not {*wanted, LABEL.lower()}.intersection(names):
        return None
    if sorted(name for name in names if name != LABEL.lower()) != sorted(wanted):
        raise PayloadError(f"line {line}: header {','.join(cells)!r} must name each of {COLUMNS} "
                           f"once ({LABEL} may be present and is ignored)")
    return [names.index(name) for name in wanted]


def _blank(cells: list[str]) -> bool:
    return not cells or (len(cells) == 1 and not cells[0].strip())


LABELLED = ",".join(RAW_COLUMNS)


def _layout(cells: list[str], line: int) -> tuple[list[int], str]:
    """Column positions of Pclass, Sex, Age in a data line without a header, by its width, and
    how the line was read: the model's columns, or the data files' layout with the label first
    (a batch transform of a labelled file sends the header in its first request only)."""
    if len(cells) == len(FEATURES):
        return list(range(len(FEATURES))), COLUMNS
    if len(cells) == len(RAW_COLUMNS):
        return list(range(1, len(RAW_COLUMNS))), f"{LABELLED} with {LABEL} ignored"
    raise PayloadError(f"line {line}: {len(cells)} columns, expected {len(FEATURES)} "
                       f"({COLUMNS}) or {len(RAW_COLUMNS)} ({LABELLED}), or a header line "
                       "naming the columns")


def parse_csv(text: str, parse: Parse) -> list[Passenger]:
    """CSV lines of `Pclass,Sex,Age` (or `Survived,Pclass,Sex,Age`), with or without a header
    line, one passenger per line in order; an empty Age is imputed."""
    reader = csv.reader(text.splitlines())
    passengers: list[Passenger] = []
    try:
        rows: Iterator[list[str]] = (cells for cells in reader if not _blank(cells))
        first = next(rows, None)
        if first is None:
            return passengers
        positions = _header(first, reader.line_num)
        where = ""  # how the lines were read, told with a field error when it may surprise
        if positions is not None:
            width, layout = len(first), f"as in the header, line {reader.line_num}"
        else:  # no header: the first line is data and sets the layout
            positions, read_as = _layout(first, reader.line_num)
            width, layout = len(first), f"as in line {reader.line_num}: {read_as}"
            where = f" (read as {read_as})" if positions[0] else ""
            rows = itertools.chain([first], rows)
        for cells in rows:
            if len(cells) != width:
                raise PayloadError(f"line {reader.line_num}: {len(cells)} columns, expected "
                                   f"{width} ({layout})")
            try:
                passengers.append(parse(*(cells[position] for position in positions)))
            except FieldError as error:
                raise PayloadError(f"line {reader.line_num}{where}, {error}") from None
    except csv.Error as error:
        raise PayloadError(f"line {reader.line_num}: not valid CSV: {error}") from None
    if not passengers:
        raise PayloadError(f"no data rows: send lines of {COLUMNS}")
    return passengers


def _instance_values(index: int, instance: object) -> tuple[Scalar, Scalar, Scalar]:
    if isinstance(instance, list):
        if len(instance) != len(FEATURES):
            raise PayloadError(f"instance {index}: {len(instance)} values, expected "
                               f"{len(FEATURES)} ([{COLUMNS}])")
        return tuple(instance)
    if isinstance(instance, dict):
        unknown = sorted(set(instance) - {*FEATURES, LABEL})
        missing = [name for name in REQUIRED_FIELDS if name not in instance]
        if unknown or missing:
            problem = (f"unknown field(s) {', '.join(unknown)}" if unknown
                       else f"missing {', '.join(missing)}")
            raise PayloadError(f"instance {index}: {problem}; fields are {COLUMNS} "
                               "(Age may be null or absent)")
        return instance["Pclass"], instance["Sex"], instance.get("Age")
    raise PayloadError(f"instance {index}: expected an object {{Pclass, Sex, Age}} or an array "
                       f"[{COLUMNS}], got {type(instance).__name__}")


def parse_json(text: str, parse: Parse) -> list[Passenger]:
    """`{"instances": [...]}` of records or of `[Pclass, Sex, Age]` arrays."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        hint = ""
        if text[error.pos:].lstrip("-").startswith(("NaN", "Infinity")) or "infinity" in error.msg:
            hint = " (numbers must be finite: NaN and Infinity are not JSON; a missing Age is null)"
        raise PayloadError(f"malformed JSON at line {error.lineno} column {error.colno}: "
                           f"{error.msg}{hint}") from None
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or not instances:
        raise PayloadError('JSON body must be {"instances": [...]} with at least one instance')
    passengers = []
    for index, instance in enumerate(instances):
        try:
            passengers.append(parse(*_instance_values(index, instance)))
        except FieldError as error:
            raise PayloadError(f"instance {index}, {error}") from None
    return passengers


PARSERS: dict[str, Callable[[str, Parse], list[Passenger]]] = {CSV: parse_csv, JSON: parse_json}


def encode(media_type: str, labels: Sequence[int], probabilities: Sequence[float],
           version: str) -> bytes:
    """`label,probability` lines for CSV; `{"predictions": [...], "model_version"}` for JSON."""
    pairs: Iterable[tuple[int, float]] = zip(labels, probabilities, strict=True)
    if media_type == CSV:
        return "".join(f"{label},{probability}\n" for label, probability in pairs).encode()
    return orjson.dumps({"predictions": [{"survived": label, "probability": probability}
                                         for label, probability in pairs],
                         "model_version": version})
