"""The function's CSV reading and writing, as plain Python (batch-inference/csv_rows.py)."""

from __future__ import annotations

import pytest
from csv_rows import (
    AnswerMismatch,
    FileRejected,
    Layout,
    Row,
    decoded_lines,
    open_rows,
    predictions,
    read_rows,
    rejected_line,
)

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it


def chunks(data: bytes, size: int = 3) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_a_header_names_the_models_columns_in_any_order_and_case_and_keeps_the_others():
    layout, rows = open_rows([b"Name, age ,SEX,pclass,Survived\nAnn,29,female,1,1\n"])
    assert layout == Layout(("Name", " age ", "SEX", "pclass", "Survived"), (3, 2, 1), True)
    assert list(rows) == [Row(2, ["Ann", "29", "female", "1", "1"])]
    assert layout.request_line(Row(2, ["Ann", "29", "female", "1", "1"])) == b"1,female,29\n"
    assert layout.output_header()[-2:] == ["predicted_survived", "survival_probability"]
    assert layout.error_header()[:2] == ["line", "error"]


def test_without_a_header_the_first_three_columns_are_the_models():
    layout, rows = open_rows([b"3,male,22,Bob,x\n1,female,,Ann,y\n"])
    assert layout.columns == ("Pclass", "Sex", "Age", "column4", "column5")
    assert not layout.has_header and layout.positions == (0, 1, 2)
    assert [row.line for row in rows] == [1, 2]  # the first row is data


@pytest.mark.parametrize("header, says", [
    (b"Pclass,Sex,Name\n", "lacks Age"),
    (b"Pclass,Sex,Age,age\n", "names Age more than once"),
])
def test_a_header_without_each_model_column_once_rejects_the_file(header, says):
    with pytest.raises(FileRejected, match=f"line 1: the header .* {says}"):
        open_rows([header + b"1,female,29\n"])


@pytest.mark.parametrize("data, says", [
    (b"", "the file has no rows"),
    (b"\n \n", "the file has no rows"),
    (b"3,male\n", "line 1: 2 column"),
    (b"ok\n\xff\xfe\n", "not UTF-8 text: invalid start byte at byte 3"),
    (b"Pclass,Sex,Age\n" + b"1," + b"x" * 200_000 + b",2\n", "line 2: not valid CSV"),
])
def test_what_is_not_a_file_of_rows_is_rejected_as_a_whole(data, says):
    with pytest.raises(FileRejected, match=says):
        list(open_rows(chunks(data, 5))[1])


def test_lines_survive_any_chunking_with_their_ends_and_without_a_byte_order_mark():
    text = "\ufeffPclass,Sex,Age\r\n1,female,29\n2,måle,3".encode()
    for size in (1, 2, 5, 100):
        assert list(decoded_lines(chunks(text, size))) == [
            "Pclass,Sex,Age\r\n", "1,female,29\n", "2,måle,3"]


def test_rows_know_the_line_they_start_on_through_blank_lines_and_quoted_line_breaks():
    data = b'a,b\n\n"one\ntwo",c\n , \nd,e\n'
    assert list(read_rows(chunks(data))) == [
        Row(1, ["a", "b"]), Row(3, ["one\ntwo", "c"]), Row(6, ["d", "e"])]


def test_what_cannot_be_sent_as_a_row_is_refused_before_sending():
    layout = Layout(("Name", "Pclass", "Sex", "Age"), (1, 2, 3), True)
    assert layout.refusal(Row(5, ["Ann", "1", "female", "29"])) is None
    assert layout.refusal(Row(5, ["1", "female", "29"])) == \
        "3 columns, expected 4 (as in the header)"
    assert "a header line among the data rows" in layout.refusal(
        Row(5, ["Name", "Pclass", "Sex", "Age"]))
    assert layout.refusal(Row(5, ["Ann", "1", "fe\nmale", "2"])) == \
        "a line break inside a value of Pclass, Sex or Age"
    assert layout.refusal(Row(5, ["Ann\nB", "1", "female", "2"])) is None  # kept, not sent


def test_a_request_line_is_quoted_as_csv_needs():
    layout = Layout(("Pclass", "Sex", "Age"), (0, 1, 2), False)
    assert layout.request_line(Row(1, ["1", 'fe,"male"', "2"])) == b'1,"fe,""male""",2\n'


def test_the_answer_has_one_prediction_per_row_sent():
    assert predictions(b"1,0.9\n0,0.12\n", 2) == [("1", "0.9"), ("0", "0.12")]
    with pytest.raises(AnswerMismatch, match=r"answered 1 line\(s\) for 2 row\(s\)"):
        predictions(b"1,0.9\n", 2)
    with pytest.raises(AnswerMismatch):
        predictions(b'{"predictions": []}', 1)


def test_the_line_a_refusal_names_and_its_reason():
    assert rejected_line("line 3, column Age: 'x' is not a number") == \
        (3, "column Age: 'x' is not a number")
    assert rejected_line("line 12: 2 columns, expected 3") == (12, "2 columns, expected 3")
    assert rejected_line("body is not UTF-8 text") is None
