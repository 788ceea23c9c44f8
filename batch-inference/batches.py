"""Rows to the endpoint in batches, and what comes back for each row: a prediction or the reason
it was refused.

A batch holds at most `max_rows` rows and `max_bytes` of request body (InvokeEndpoint takes at
most 6 MB, and its answer is limited to 6 MB too). The model answers a batch with one bad row
with 400 and the first bad row's line ("line 3, column Age: ..."), predicting none of them; the
rows before that line were read fine. So a refused batch is split there: the bad row goes to the
error report with the model's reason, the rows before it are sent again (they pass), and the
rows after it are sent as a batch of their own (which may hold the next bad row). A clean batch
costs one request; each bad row costs two more. A model whose message names no line is handled
by halving the batch until the refused row is alone (about 2 log2(n) requests per bad row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from csv_rows import Layout, Row, predictions, rejected_line

INVOKE_ENDPOINT_LIMIT = 6 * 1024 * 1024  # bytes, request and answer alike


class Rejected(Exception):
    """The model refused a request (a 4xx): its message."""


# Sends one request body (CSV lines) and returns the model's answer; raises Rejected.
Invoke = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Item:
    """A row of a batch: its request line, or why it is not sent at all."""

    row: Row
    line: bytes = b""
    refusal: str | None = None


@dataclass
class Outcome:
    """What became of one row: a (survived, probability) prediction or the reason it has none."""

    row: Row
    prediction: tuple[str, str] | None = None
    error: str | None = None


@dataclass
class Scored:
    outcomes: list[Outcome] = field(default_factory=list)
    requests: int = 0
    rows_sent: int = 0


def batches(rows: Iterable[Row], layout: Layout, max_rows: int,
            max_bytes: int) -> Iterator[list[Item]]:
    """The rows in order, grouped into batches within the limits (rows refused before sending
    travel in the batch too, so that outcomes stay in file order)."""
    batch: list[Item] = []
    size = sent = 0
    for row in rows:
        refusal = layout.refusal(row)
        line = b"" if refusal else layout.request_line(row)
        if len(line) > max_bytes:
            refusal, line = f"the row's Pclass, Sex and Age take {len(line)} bytes, more " \
                            f"than a request may ({max_bytes})", b""
        if batch and (size + len(line) > max_bytes or (line and sent >= max_rows)):
            yield batch
            batch, size, sent = [], 0, 0
        batch.append(Item(row, line, refusal))
        size += len(line)
        sent += bool(line)
    if batch:
        yield batch


def score(batch: list[Item], invoke: Invoke) -> Scored:
    """Every row of the batch predicted or refused, in order (see the module's docstring)."""
    scored = Scored()
    outcomes: dict[int, Outcome] = {}
    for index, item in enumerate(batch):
        if item.refusal is not None:
            outcomes[index] = Outcome(item.row, error=item.refusal)
    pending = [[index for index, item in enumerate(batch) if item.refusal is None]]
    while pending:
        part = pending.pop()
        if not part:
            continue
        scored.requests += 1
        scored.rows_sent += len(part)
        try:
            answer = invoke(b"".join(batch[index].line for index in part))
        except Rejected as refused:
            named = rejected_line(str(refused))
            if named is not None and 1 <= named[0] <= len(part):
                bad = named[0] - 1
                outcomes[part[bad]] = Outcome(batch[part[bad]].row, error=named[1])
                pending += [part[bad + 1:], part[:bad]]  # the rows before it first
            elif len(part) == 1:
                outcomes[part[0]] = Outcome(batch[part[0]].row, error=str(refused))
            else:
                half = len(part) // 2
                pending += [part[half:], part[:half]]
            continue
        for index, prediction in zip(part, predictions(answer, len(part)), strict=True):
            outcomes[index] = Outcome(batch[index].row, prediction=prediction)
    scored.outcomes = [outcomes[index] for index in range(len(batch))]
    return scored
