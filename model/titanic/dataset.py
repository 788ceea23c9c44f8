"""Labelled passenger CSV files (header `Survived,Pclass,Sex,Age`): reading and writing."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from titanic.job import JobFailure
from titanic.schema import (
    RAW_COLUMNS,
    FieldError,
    Passenger,
    parse_passenger,
    parse_survived,
)


@dataclass(frozen=True)
class Row:
    line: int
    passenger: Passenger
    label: int
    missing: tuple[str, ...]  # columns left empty in the file


@dataclass(frozen=True)
class RejectedRow:
    line: int
    kind: str  # what is wrong, for counting: "wrong number of columns", "invalid Age", ...
    detail: str
    missing: tuple[str, ...] = ()


def csv_files(directory: Path, what: str) -> list[Path]:
    """The CSV files under `directory`, in a stable order; a JobFailure if there are none."""
    if not directory.is_dir():
        raise JobFailure(f"{what}: directory {directory} does not exist")
    files = sorted(p for p in directory.rglob("*.csv") if p.is_file())
    if not files:
        raise JobFailure(f"{what}: no .csv files in {directory}")
    return files


def read_rows(path: Path) -> Iterator[Row | RejectedRow]:
    """Each data row of `path`, parsed, or rejected with the reason.

    A file that is not a CSV with the `Survived,Pclass,Sex,Age` columns is a JobFailure: no row
    of it can be trusted. Extra columns are ignored.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [cell.strip() for cell in next(reader, [])]
            missing = [column for column in RAW_COLUMNS if column not in header]
            if missing:
                raise JobFailure(
                    f"{path}: header {','.join(header) or '(empty file)'} lacks "
                    f"{', '.join(missing)}; expected a CSV with header {','.join(RAW_COLUMNS)}")
            positions = [header.index(column) for column in RAW_COLUMNS]
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue
                yield _parse(reader.line_num, cells, positions, len(header))
    except UnicodeDecodeError as error:
        raise JobFailure(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise JobFailure(f"{path}: not a readable CSV file ({error})") from None


def _parse(line: int, cells: list[str], positions: list[int], width: int) -> Row | RejectedRow:
    if len(cells) != width:
        return RejectedRow(line, "wrong number of columns",
                           f"line {line}: {len(cells)} columns, the header has {width}")
    values = [cells[position] for position in positions]
    missing = tuple(column for column, value in zip(RAW_COLUMNS, values, strict=True)
                    if not value.strip())
    label, pclass, sex, age = values
    try:
        return Row(line, parse_passenger(pclass, sex, age), parse_survived(label), missing)
    except FieldError as error:
        return RejectedRow(line, f"invalid {error.column}", f"line {line}, {error}", missing)


def read_split(directory: Path, what: str) -> list[Row]:
    """Every row of a cleaned split (a training channel); any bad row is a JobFailure."""
    rows = []
    for path in csv_files(directory, what):
        for row in read_rows(path):
            if isinstance(row, RejectedRow):
                raise JobFailure(f"{what}: {path}: {row.detail}")
            rows.append(row)
    if not rows:
        raise JobFailure(f"{what}: the CSV files in {directory} have no data rows")
    return rows


def to_csv(rows: Sequence[Row]) -> bytes:
    """Rows in the raw schema, header first; a missing Age stays empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RAW_COLUMNS)
    for row in rows:
        pclass, sex, age = row.passenger
        writer.writerow((row.label, pclass, sex, "" if age is None else repr(age)))
    return out.getvalue().encode()
