"""Batches within InvokeEndpoint's limits, and refused rows split out of them, as plain Python
(batch-inference/batches.py). The endpoint is stood in for by the model's own request parser
(model/titanic/payload.py: it refuses a body with the first bad line's number, as the served
model answers 400), or by one that names no line."""

from __future__ import annotations

import pytest
from batches import Rejected, batches, score
from csv_rows import Layout, Row
from titanic.payload import PayloadError, parse_csv
from titanic.schema import parse_passenger

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

LAYOUT = Layout(("Name", "Pclass", "Sex", "Age"), (1, 2, 3), True)


class Model:
    """Answers a CSV body as the model server does: every row predicted, or 400 naming the
    first bad line (`says_line=False`: a message without the line)."""

    def __init__(self, says_line: bool = True) -> None:
        self.says_line = says_line
        self.bodies: list[bytes] = []

    def __call__(self, body: bytes) -> bytes:
        self.bodies.append(body)
        try:
            passengers = parse_csv(body.decode(), parse_passenger)
        except PayloadError as error:
            raise Rejected(str(error) if self.says_line else "bad request") from None
        return "".join(f"{int(sex == 'female')},0.{pclass}\n"
                       for pclass, sex, _ in passengers).encode()


def rows(*specs: tuple[str, str, str]) -> list[Row]:
    return [Row(line, [f"p{line}", *spec]) for line, spec in enumerate(specs, 2)]


def test_batches_keep_to_the_row_and_byte_limits_and_the_file_order():
    many = rows(*[("3", "male", str(age)) for age in range(10, 60)])  # lines of 10-11 bytes
    by_rows = list(batches(many, LAYOUT, max_rows=7, max_bytes=1_000))
    assert [len(b) for b in by_rows] == [7] * 7 + [1]
    by_bytes = list(batches(many, LAYOUT, max_rows=1_000, max_bytes=50))
    assert all(sum(len(item.line) for item in b) <= 50 for b in by_bytes)
    assert all(sum(len(item.line) for item in b) > 40 for b in by_bytes[:-1])  # filled up
    assert [item.row for b in by_bytes for item in b] == many


def test_rows_refused_before_sending_ride_along_without_counting():
    mixed = [Row(2, ["a", "1", "female", "2"]), Row(3, ["short"]),
             Row(4, ["b", "2", "male", "3"])]
    (batch,) = batches(mixed, LAYOUT, max_rows=2, max_bytes=1_000)
    assert [(item.line, item.refusal) for item in batch] == [
        (b"1,female,2\n", None), (b"", "1 columns, expected 4 (as in the header)"),
        (b"2,male,3\n", None)]


def test_a_row_too_large_for_any_request_is_refused():
    huge = Row(2, ["a", "1", "female", "9" * 100])
    (batch,) = batches([huge], LAYOUT, max_rows=10, max_bytes=50)
    assert batch[0].refusal.startswith("the row's Pclass, Sex and Age take 110 bytes")


def test_a_clean_batch_is_one_request():
    model = Model()
    (batch,) = batches(rows(("1", "female", "29"), ("3", "male", "")), LAYOUT, 10, 1_000)
    scored = score(batch, model)
    assert [o.prediction for o in scored.outcomes] == [("1", "0.1"), ("0", "0.3")]
    assert (scored.requests, scored.rows_sent, len(model.bodies)) == (1, 2, 1)


def test_refused_rows_are_split_out_at_the_line_the_model_names():
    model = Model()
    given = rows(("1", "female", "29"), ("4", "male", "3"), ("2", "male", "40"),
                 ("1", "cat", "2"), ("3", "female", "5"))
    (batch,) = batches(given, LAYOUT, 100, 10_000)
    scored = score(batch, model)
    assert [(o.row.line, o.prediction, o.error) for o in scored.outcomes] == [
        (2, ("1", "0.1"), None),
        (3, None, "column Pclass: 4 is not one of 1, 2, 3"),
        (4, ("0", "0.2"), None),
        (5, None, "column Sex: 'cat' is not one of female, male"),
        (6, ("1", "0.3"), None)]
    assert scored.requests == 1 + 2 * 2  # one more for the rows before and after each bad one
    assert model.bodies[0].count(b"\n") == 5


def test_a_model_that_names_no_line_still_gets_the_bad_row_isolated():
    model = Model(says_line=False)
    given = rows(*[("3", "male", str(age)) for age in range(20)], ("9", "male", "1"))
    (batch,) = batches(given, LAYOUT, 100, 10_000)
    scored = score(batch, model)
    assert [o.row.line for o in scored.outcomes if o.error] == [22]
    assert scored.outcomes[-1].error == "bad request"
    assert sum(o.prediction is not None for o in scored.outcomes) == 20
    assert scored.requests <= 2 * 5 + 1  # halving: about 2 log2(21)


def test_every_row_refused_is_reported_and_nothing_is_predicted():
    given = rows(*[("0", "female", "1")] * 4)
    (batch,) = batches(given, LAYOUT, 100, 10_000)
    scored = score(batch, Model())
    assert [o.error for o in scored.outcomes] == ["column Pclass: 0 is not one of 1, 2, 3"] * 4
    assert scored.requests == 4

