"""Batch transform's record handling, as SageMaker's docs define it (batch-transform,
batch-transform-data-processing): splitting, mini-batches, DataProcessing's JSONPath subset."""

from __future__ import annotations

import json

import pytest

from sagepipe.sagemaker.transform_jsonpath import JsonPath, PathError
from sagepipe.sagemaker.transform_records import (
    MB,
    DataProcessing,
    RecordError,
    assemble,
    batches,
    split_records,
)

ROW = ["id-7", "1", "female", "29", "x"]


@pytest.mark.parametrize(("path", "selected"), [
    ("$", ROW),
    ("$[0]", "id-7"),
    ("$[-1]", "x"),
    ("$[1,3]", ["1", "29"]),
    ("$[1:]", ROW[1:]),
    ("$[1:3]", ["1", "female", "29"]),  # "$[1:4] specifies the second through fifth columns"
    ("$[:1]", ["id-7", "1"]),
    ("$[:-2]", ROW[:-1]),
    ("$[*]", ROW),
])
def test_csv_paths_index_columns_with_inclusive_slices(path, selected):
    assert JsonPath(path).select(ROW) == selected


def test_json_paths_select_members():
    record = {"id": 3, "features": {"a": 1, "b": [5, 6]}, "SageMakerOutput": 0.9}
    assert JsonPath("$.features.b[1]").select(record) == 6
    assert JsonPath("$.features.*").select(record) == [1, [5, 6]]
    assert JsonPath("$['id','SageMakerOutput']").select(record) == {"id": 3,
                                                                    "SageMakerOutput": 0.9}
    assert JsonPath("$.features.['a']").select(record) == 1
    with pytest.raises(PathError, match="the record has no field 'nope'"):
        JsonPath("$.nope").select(record)
    with pytest.raises(PathError, match="index 9 is out of range"):
        JsonPath("$[9]").select(ROW)


@pytest.mark.parametrize("text", ["features", "$..a", "$.a[?(@.b)]", "$[1:2:3]", "$.a b"])
def test_paths_outside_sagemakers_subset_are_refused(text):
    with pytest.raises(PathError):
        JsonPath(text)


def test_lines_are_records_and_batches_hold_whole_records():
    records = split_records(b"a,1\n\nb,2\r\nc,3", "Line")
    assert records == [b"a,1\n", b"b,2\r\n", b"c,3\n"]
    assert split_records(b"a\nb\n", "None") == [b"a\nb\n"]
    line = b"x" * (MB // 3) + b"\n"
    sent = list(batches([line] * 7, multi_record=True, max_payload_mb=1))
    assert [(b.first, b.count) for b in sent] == [(0, 2), (2, 2), (4, 2), (6, 1)]
    assert all(len(b.body) <= MB and b.body.endswith(b"\n") for b in sent)
    assert [b.count for b in batches([b"a\n"] * 3, multi_record=False, max_payload_mb=6)] == [
        1, 1, 1]
    assert [b.count for b in batches([line] * 7, multi_record=True, max_payload_mb=0)] == [7]
    with pytest.raises(RecordError, match=r"record 2 is \d+ bytes, more than MaxPayloadInMB"):
        list(batches([b"a\n", b"x" * (MB + 1)], multi_record=True, max_payload_mb=1))


def test_assemble_with_line_ends_each_answer_once():
    assert assemble(b"1\n2", by_line=True) == b"1\n2\n"
    assert assemble(b"1\n2\n", by_line=True) == b"1\n2\n"
    assert assemble(b"1\n2", by_line=False) == b"1\n2"


def processing(config: dict, content_type: str = "text/csv", accept: str = "text/csv",
               split: str = "Line") -> DataProcessing:
    compiled = DataProcessing.from_request(config, split, content_type, accept)
    assert compiled is not None
    return compiled


def test_csv_join_appends_the_answer_and_the_output_filter_keeps_columns():
    join = processing({"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    records = [b'7,1,"female, 1st",29\n', b"8,3,male,\n"]
    assert join.model_inputs(records) == [b'1,"female, 1st",29\n', b"3,male,\n"]
    assert join.outputs(1, records, b"1,0.93\n0,0.12\n") == b"7,0.93\n8,0.12\n"
    with pytest.raises(RecordError, match="records 1-2: the model answered 1 line"):
        join.outputs(1, records, b"1,0.93\n")


def test_json_join_adds_sagemaker_output_or_wraps_the_input():
    join = processing({"JoinSource": "Input"}, "application/json", "application/json")
    records = [b'{"id": 1}\n', b"[1, 2]\n"]
    out = join.outputs(1, records, b'{"p": 0.5}\n"plain"\n').splitlines()
    assert [json.loads(line) for line in out] == [
        {"id": 1, "SageMakerOutput": {"p": 0.5}},
        {"SageMakerInput": [1, 2], "SageMakerOutput": "plain"}]
    whole = processing({"JoinSource": "Input"}, "application/json", "application/json", "None")
    assert json.loads(whole.outputs(1, [b'{"a": [1,\n 2]}'], b"[0.1, 0.2]")) == {
        "a": [1, 2], "SageMakerOutput": [0.1, 0.2]}


@pytest.mark.parametrize(("config", "content_type", "accept", "split", "words"), [
    ({"JoinSource": "Input"}, "text/libsvm", "text/csv", "Line", "text/csv, application/json"),
    ({"JoinSource": "Input"}, "text/csv", "application/json", "Line", "one format"),
    ({"OutputFilter": "$[0]"}, "text/csv", "text/csv", "None", "SplitType to Line"),
    ({"InputFilter": "nope"}, "text/csv", "text/csv", "Line",
     r"DataProcessing.InputFilter: 'nope' is not a JSONPath: it must start with '\$'"),
])
def test_data_processing_that_cannot_work_is_refused(config, content_type, accept, split,
                                                     words):
    with pytest.raises(ValueError, match=words):
        DataProcessing.from_request(config, split, content_type, accept)


def test_default_data_processing_changes_nothing():
    assert DataProcessing.from_request({"InputFilter": "$", "JoinSource": "None",
                                        "OutputFilter": "$"}, "None", "image/png", None) is None
