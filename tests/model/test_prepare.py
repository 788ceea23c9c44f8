"""`prepare`: cleaned, seeded stratified splits, a preprocessor fitted on train only, a report,
and a clear failure for input that is not Titanic passenger CSV."""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from pathlib import Path

import pytest
from model_kit import raw_dir, run_prepare
from testkit import TEST_DATA

pytest_plugins = ["model_kit"]

SPLITS = ("train", "validation", "test")


def split_rows(output: Path, name: str) -> list[dict[str, str]]:
    with (output / name / f"{name}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def raw_rows() -> list[dict[str, str]]:
    with (TEST_DATA / "titanic_train.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def key(row: dict[str, str]) -> tuple[int, int, str, float | None]:
    age = float(row["Age"]) if row["Age"] else None
    return int(row["Survived"]), int(row["Pclass"]), row["Sex"], age


def test_splits_partition_the_input_stratified(prepared):
    raw = raw_rows()
    parts = {name: split_rows(prepared, name) for name in SPLITS}
    assert Counter(key(row) for part in parts.values() for row in part) == Counter(
        map(key, raw))
    assert [len(parts[name]) for name in SPLITS] == [435, 94, 94]
    overall = sum(row["Survived"] == "1" for row in raw) / len(raw)
    for part in parts.values():
        assert abs(sum(row["Survived"] == "1" for row in part) / len(part) - overall) < 0.01
    assert list(parts["train"][0]) == ["Survived", "Pclass", "Sex", "Age"]


def test_split_is_deterministic_for_a_seed(prepared, tmp_path):
    again = tmp_path / "again"
    assert run_prepare(raw_dir(tmp_path, TEST_DATA / "titanic_train.csv"), again).returncode == 0
    for name in SPLITS:
        assert (again / name / f"{name}.csv").read_bytes() == (
            prepared / name / f"{name}.csv").read_bytes()
    other = tmp_path / "other-seed"
    assert run_prepare(tmp_path / "raw", other, "--seed", "7").returncode == 0
    assert split_rows(other, "train") != split_rows(prepared, "train")


def test_preprocessor_is_fitted_on_the_train_split_only(prepared):
    preprocessor = json.loads((prepared / "preprocessor/preprocessor.json").read_text())
    train_ages = [float(row["Age"]) for row in split_rows(prepared, "train") if row["Age"]]
    all_ages = [float(row["Age"]) for row in raw_rows() if row["Age"]]
    assert statistics.median(train_ages) != statistics.median(all_ages)  # the data tells apart
    assert preprocessor["age_fill"] == statistics.median(train_ages)
    assert preprocessor["sex_codes"] == {"female": 0, "male": 1}
    assert preprocessor["pclass_categories"] == [1, 2, 3]


def test_report_counts_rows_rejections_missing_values_and_classes(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Survived,Pclass,Sex,Age\n"
                   "2,1,male,30\n"        # line 2: Survived not 0/1
                   "1,4,female,30\n"      # line 3: no such class
                   "1,1,robot,30\n"       # line 4: unknown Sex
                   "0,3,male,old\n"       # line 5: Age not a number
                   "0,3,male\n"           # line 6: a column short
                   "0,,male,\n"           # line 7: Pclass and Age missing
                   "1,2,female,\n")       # line 8: kept, Age missing (imputed later)
    output = tmp_path / "output"
    done = run_prepare(raw_dir(tmp_path, TEST_DATA / "titanic_train.csv", bad), output)
    assert done.returncode == 0, done.stderr
    report = json.loads((output / "report/validation_report.json").read_text())
    raw = raw_rows()
    assert (report["rows_in"], report["rows_out"], report["rows_rejected"]) == (
        len(raw) + 7, len(raw) + 1, 6)
    assert report["rejected_by_reason"] == {"invalid Pclass": 2, "invalid Survived": 1,
                                            "invalid Sex": 1, "invalid Age": 1,
                                            "wrong number of columns": 1}
    assert "bad.csv: line 5, column Age: 'old' is not a number" in report["rejected_examples"]
    raw_missing_ages = sum(not row["Age"] for row in raw)
    assert report["missing_values"] == {"Survived": 0, "Pclass": 1, "Sex": 0,
                                        "Age": raw_missing_ages + 2}
    survivors = sum(row["Survived"] == "1" for row in raw) + 1
    assert report["class_balance"] == {"0": len(raw) + 1 - survivors, "1": survivors}
    assert sum(split["rows"] for split in report["splits"].values()) == len(raw) + 1


@pytest.mark.parametrize(("files", "reason"), [
    ({}, "no .csv files"),
    ({"people.csv": "name,age\nann,3\n"}, "lacks Survived, Pclass, Sex, Age; expected a CSV "
                                          "with header Survived,Pclass,Sex,Age"),
    ({"latin1.csv": "Survived,Pclass,Sex,Age\n1,1,f\xe9male,3\n".encode("latin-1")},
     "not UTF-8 text"),
    ({"all-dead.csv": "Survived,Pclass,Sex,Age\n" + "0,3,male,30\n" * 20},
     "a classifier needs passengers of both outcomes"),
    ({"all-bad.csv": "Survived,Pclass,Sex,Age\n1,9,male,3\n"}, "no valid rows"),
])
def test_input_that_is_not_passenger_csv_fails_with_a_message(tmp_path, files, reason):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, content in files.items():
        (raw / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    done = run_prepare(raw, tmp_path / "output")
    assert done.returncode == 1
    message = (tmp_path / "output-sm-output/message").read_text()
    assert reason in message and message.count("\n") == 1
    assert not (tmp_path / "output/train").exists()


def test_bad_arguments_fail_with_a_message(tmp_path):
    done = run_prepare(tmp_path, tmp_path / "output", "--test-fraction", "0.9")
    assert done.returncode == 1
    assert "--test-fraction" in (tmp_path / "output-sm-output/message").read_text()
