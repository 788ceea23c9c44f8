"""The CSV side of batch inference, in plain Python: reading an input file as rows, finding the
model's columns in it, the request bodies of those columns, the model's answers, and the rows
of the predictions file and of the error report.

An input file is UTF-8 CSV, with a header line or without one:
- with a header (its first line names Pclass, Sex and Age, in any order and case, each once),
  the model's columns are found by name and every other column is kept as it is;
- without one, the first three columns are Pclass, Sex and Age, and any further columns are
  kept (named column4, column5, ... in the output's header).

What the model accepts in those columns is the model's business (it answers 400 naming the
row): this module only refuses what cannot be sent as a row at all (a row of another width
than the first, a second header line, a line break inside a model column).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MODEL_COLUMNS = ("Pclass", "Sex", "Age")
PREDICTION_COLUMNS = ("predicted_survived", "survival_probability")
ERROR_COLUMNS = ("line", "error")
_MODEL_NAMES = tuple(name.lower() for name in MODEL_COLUMNS)
_MODEL_LINE = re.compile(r"^line (\d+)[,:]\s*(.*)$", re.DOTALL)
_NEEDS_QUOTES = re.compile(r'[",\r\n]')


class FileRejected(ValueError):
    """The file as a whole cannot be scored (not UTF-8, not CSV, a header without a model
    column, ...); the message says where and why."""


class AnswerMismatch(RuntimeError):
    """The model's answer does not have one prediction per row sent: the endpoint does not
    serve this model's contract (retrying the event will not help until it does)."""


@dataclass(frozen=True)
class Row:
    line: int  # the file's line the row starts on (the first line is 1)
    cells: list[str]


def _names(cells: list[str]) -> list[str]:
    return [cell.strip().lower() for cell in cells]


def looks_like_header(cells: list[str]) -> bool:
    """Whether a row names any of the model's columns (then it is a header, or a mistake)."""
    return bool(set(_names(cells)) & set(_MODEL_NAMES))


@dataclass(frozen=True)
class Layout:
    """Where the model's columns are in a file, and the names of all its columns."""

    columns: tuple[str, ...]  # every input column, as the output's header names them
    positions: tuple[int, int, int]  # of Pclass, Sex, Age
    has_header: bool

    @classmethod
    def of(cls, first: Row) -> Layout:
        """The layout a file's first row sets (its header, or its first data row's width)."""
        if looks_like_header(first.cells):
            names = _names(first.cells)
            missing = [c for c, n in zip(MODEL_COLUMNS, _MODEL_NAMES, strict=True)
                       if n not in names]
            repeated = [c for c, n in zip(MODEL_COLUMNS, _MODEL_NAMES, strict=True)
                        if names.count(n) > 1]
            if missing or repeated:
                problem = (f"lacks {', '.join(missing)}" if missing
                           else f"names {', '.join(repeated)} more than once")
                raise FileRejected(f"line {first.line}: the header {','.join(first.cells)!r} "
                                   f"{problem}; it must name each of {','.join(MODEL_COLUMNS)} "
                                   "once (other columns are kept)")
            pclass, sex, age = (names.index(name) for name in _MODEL_NAMES)
            return cls(tuple(first.cells), (pclass, sex, age), True)
        if len(first.cells) < len(MODEL_COLUMNS):
            raise FileRejected(f"line {first.line}: {len(first.cells)} column(s); a file "
                               f"without a header line starts each row with "
                               f"{','.join(MODEL_COLUMNS)} (or give a header naming them)")
        extra = tuple(f"column{n}" for n in range(len(MODEL_COLUMNS) + 1,
                                                  len(first.cells) + 1))
        return cls((*MODEL_COLUMNS, *extra), (0, 1, 2), False)

    @property
    def width(self) -> int:
        return len(self.columns)

    def refusal(self, row: Row) -> str | None:
        """Why `row` cannot be sent to the model as one row (None: it can)."""
        if len(row.cells) != self.width:
            where = "the header" if self.has_header else "the first row"
            return f"{len(row.cells)} columns, expected {self.width} (as in {where})"
        values = [row.cells[p] for p in self.positions]
        if any(value.strip().lower() in _MODEL_NAMES for value in values):
            return ("a header line among the data rows (only the first line of a file may "
                    "name the columns)")
        if any("\n" in value or "\r" in value for value in values):
            return "a line break inside a value of Pclass, Sex or Age"
        return None

    def request_line(self, row: Row) -> bytes:
        """The row's model columns as one CSV line of a request body (quoted where needed)."""
        values = [row.cells[p] for p in self.positions]
        if any(_NEEDS_QUOTES.search(value) for value in values):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(values)
            return buffer.getvalue().encode()
        return f"{values[0]},{values[1]},{values[2]}\n".encode()

    def output_header(self) -> list[str]:
        return [*self.columns, *PREDICTION_COLUMNS]

    def error_header(self) -> list[str]:
        return [*ERROR_COLUMNS, *self.columns]


def decoded_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The text lines (ends kept) of a UTF-8 file given in chunks of any size; a byte-order
    mark is dropped."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending, offset, chunk = "", 0, b""  # offset: bytes of the file before `chunk`
    try:
        for chunk in chunks:
            pending += decoder.decode(chunk)
            offset += len(chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line + "\n"
        chunk = b""
        pending += decoder.decode(chunk, final=True)
    except UnicodeDecodeError as error:
        # error.object is what the decoder held back from earlier chunks, then `chunk`.
        held = len(error.object) - len(chunk)
        raise FileRejected(f"not UTF-8 text: {error.reason} at byte "
                           f"{offset - held + error.start}") from None
    if pending:
        yield pending


def read_rows(chunks: Iterable[bytes]) -> Iterator[Row]:
    """The file's rows in order, blank lines skipped, each with the line it starts on."""
    reader = csv.reader(decoded_lines(chunks))
    start = 1
    try:
        for cells in reader:
            if cells and any(cell.strip() for cell in cells):
                yield Row(start, cells)
            start = reader.line_num + 1
    except csv.Error as error:
        raise FileRejected(f"line {start}: not valid CSV: {error}") from None


def open_rows(chunks: Iterable[bytes]) -> tuple[Layout, Iterator[Row]]:
    """The file's layout and its data rows (the header, if any, consumed)."""
    rows = read_rows(chunks)
    first = next(rows, None)
    if first is None:
        raise FileRejected("the file has no rows: send a header line and rows of "
                           f"{','.join(MODEL_COLUMNS)}, or just the rows")
    layout = Layout.of(first)
    if layout.has_header:
        return layout, rows
    return layout, _prepend(first, rows)


def _prepend(first: Row, rest: Iterator[Row]) -> Iterator[Row]:
    yield first
    yield from rest


def predictions(answer: bytes, count: int) -> list[tuple[str, str]]:
    """(survived, probability) per row of the model's CSV answer, which must have `count`."""
    lines = [line for line in answer.decode("utf-8", errors="replace").splitlines()
             if line.strip()]
    pairs = [tuple(cell.strip() for cell in line.split(",")) for line in lines]
    if len(pairs) != count or any(len(pair) != len(PREDICTION_COLUMNS) for pair in pairs):
        raise AnswerMismatch(f"the endpoint answered {len(lines)} line(s) for {count} row(s) "
                             f"(expected one 'survived,probability' line per row): "
                             f"{answer[:200]!r}")
    return [(pair[0], pair[1]) for pair in pairs]


def rejected_line(message: str) -> tuple[int, str] | None:
    """(line, reason) of a model's 400 message that names the line of the request it refused
    ("line 3, column Age: 'x' is not a number"); None if it names none."""
    found = _MODEL_LINE.match(message.strip())
    return (int(found[1]), found[2].strip()) if found else None
