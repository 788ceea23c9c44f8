"""`prepare --step inference` and `--step predictions`: the processing steps around a batch
transform. The saved preprocessor is applied, never refitted; rows the model would refuse are
rejected with their line; the transform's answers are joined back with a header."""

from __future__ import annotations

import csv
import json
import shutil
import statistics
from pathlib import Path

import pytest
from model_kit import run
from testkit import TEST_DATA

pytest_plugins = ["model_kit"]

EXTRA = ("PassengerId,Name,Pclass,Sex,Age\n"
         "7,\"Allen, Miss E\",1,Female,29\n"    # kept: Sex is normalised for the model
         "8,Bob,3,male,\n"                      # kept: Age imputed
         "9,Carl,4,male,30\n"                   # line 4: no such class
         "10,Dora,2,female\n"                   # line 5: a column short
         "11,Ed,2,male,200\n")                  # line 6: Age out of range


def run_step(step: str, output: Path, **paths: Path) -> tuple[int, str]:
    args = [f"--{name}={path}" for name, path in paths.items()]
    done = run("prepare", "--step", step, *args, "--output", output,
               SM_OUTPUT_DIR=output.parent / f"{output.name}-sm-output")
    message = output.parent / f"{output.name}-sm-output" / "message"
    return done.returncode, message.read_text() if message.exists() else done.stderr


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def inference_input(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    (raw / "batch").mkdir(parents=True)
    shutil.copy(TEST_DATA / "titanic_test.csv", raw / "titanic_test.csv")
    (raw / "batch" / "extra.csv").write_text(EXTRA)
    return raw


def test_inference_rows_get_the_saved_preprocessor(prepared, inference_input, tmp_path):
    out = tmp_path / "out"
    code, message = run_step("inference", out, input=inference_input,
                             preprocessor=prepared / "preprocessor")
    assert code == 0, message
    saved = json.loads((prepared / "preprocessor/preprocessor.json").read_text())
    test_rows = read_csv(TEST_DATA / "titanic_test.csv")
    own_median = statistics.median(float(r[3]) for r in test_rows[1:] if r[3])
    assert own_median != saved["age_fill"]  # refitting on these rows would show

    kept = read_csv(out / "kept/titanic_test.csv")
    rows = read_csv(out / "rows/titanic_test.csv")
    assert kept == test_rows  # every row kept, as given, header first
    assert len(rows) == len(test_rows) - 1 and all(len(row) == 3 for row in rows)
    for (_, pclass, sex, age), features in zip(test_rows[1:], rows, strict=True):
        assert features == [pclass, sex, repr(float(age)) if age else repr(saved["age_fill"])]

    assert read_csv(out / "kept/batch/extra.csv") == [
        ["PassengerId", "Name", "Pclass", "Sex", "Age"],
        ["7", "Allen, Miss E", "1", "Female", "29"], ["8", "Bob", "3", "male", ""]]
    assert read_csv(out / "rows/batch/extra.csv") == [
        ["1", "female", "29.0"], ["3", "male", repr(saved["age_fill"])]]

    report = json.loads((out / "report/inference_report.json").read_text())
    missing_ages = sum(not row[3] for row in test_rows[1:])
    assert (report["rows_in"], report["rows_kept"], report["rows_rejected"]) == (
        len(test_rows) - 1 + 5, len(test_rows) - 1 + 2, 3)
    assert report["ages_imputed"] == missing_ages + 1
    assert report["rejected_by_reason"] == {"invalid Pclass": 1, "wrong number of columns": 1,
                                            "invalid Age": 1}
    assert "batch/extra.csv: line 4, column Pclass: 4 is not one of 1, 2, 3" in \
        report["rejected_examples"]
    assert report["preprocessor"]["age_fill"] == saved["age_fill"]


def test_categories_unseen_in_training_are_rejected(prepared, inference_input, tmp_path):
    narrow = tmp_path / "narrow"
    narrow.mkdir()
    saved = json.loads((prepared / "preprocessor/preprocessor.json").read_text())
    (narrow / "preprocessor.json").write_text(json.dumps({**saved, "pclass_categories": [1, 2]}))
    out = tmp_path / "out"
    code, message = run_step("inference", out, input=inference_input, preprocessor=narrow)
    assert code == 0, message
    report = json.loads((out / "report/inference_report.json").read_text())
    assert "batch/extra.csv: line 3, column Pclass: 3 did not occur in the training data " \
           "(known: 1, 2)" in report["rejected_examples"]
    assert all(row[0] != "3" for row in read_csv(out / "rows/titanic_test.csv"))


@pytest.mark.parametrize(("files", "preprocessor", "reason"), [
    ({"a.csv": "Pclass,Sex\n1,male\n"}, True, "a.csv: header Pclass,Sex lacks Age; inference "
                                              "rows need a header naming Pclass, Sex, Age"),
    ({"a.csv": "Pclass,Sex,Age\n5,male,3\n"}, True, "no row of 1 inference file(s)"),
    ({"a.csv": "Pclass,Sex,Age\n1,male,3\n"}, False, "preprocessor input: cannot read "
                                                     "preprocessor"),
])
def test_unusable_inference_input_fails_with_a_message(prepared, tmp_path, files, preprocessor,
                                                       reason):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, text in files.items():
        (raw / name).write_text(text)
    source = prepared / "preprocessor" if preprocessor else tmp_path / "none"
    code, message = run_step("inference", tmp_path / "out", input=raw, preprocessor=source)
    assert code == 1 and reason in message
    assert not (tmp_path / "out/rows").exists()


def test_predictions_join_the_served_answers_with_a_header(prepared, inference_input, server,
                                                           tmp_path):
    """The rows the inference step writes, answered by the real model server as a batch
    transform sends them, joined back to the kept rows."""
    out = tmp_path / "out"
    assert run_step("inference", out, input=inference_input,
                    preprocessor=prepared / "preprocessor")[0] == 0
    transformed = tmp_path / "transformed"
    for rows in (out / "rows").rglob("*.csv"):
        name = rows.relative_to(out / "rows")
        answer = server.post("/invocations", content=rows.read_bytes(),
                             headers={"Content-Type": "text/csv", "Accept": "text/csv"})
        assert answer.status_code == 200, answer.text
        (transformed / name.parent).mkdir(parents=True, exist_ok=True)
        (transformed / name.parent / f"{name.name}.out").write_text(answer.text)
    final = tmp_path / "final"
    code, message = run_step("predictions", final, kept=out / "kept", transformed=transformed)
    assert code == 0, message
    for kept in (out / "kept").rglob("*.csv"):
        name = kept.relative_to(out / "kept")
        joined = read_csv(final / "predictions" / name)
        answers = [line.split(",") for line in
                   (transformed / name.parent / f"{name.name}.out").read_text().splitlines()]
        assert joined[0] == [*read_csv(kept)[0], "PredictedSurvived", "SurvivalProbability"]
        assert joined[1:] == [row + answer for row, answer in
                              zip(read_csv(kept)[1:], answers, strict=True)]
    women = [row for row in read_csv(final / "predictions/titanic_test.csv")[1:]
             if row[1] == "1" and row[2] == "female"]
    assert women and all(row[4] == "1" for row in women)  # first-class women survive


@pytest.mark.parametrize(("answers", "reason"), [
    ("1,0.9\n", "a.csv.out has 1 prediction(s) for the 2 rows of a.csv"),
    ("1,0.9\n2,0.5\n", "a.csv.out line 2: '2,0.5' is not a prediction `label,probability`"),
    ("1,0.9\n0\n", "a.csv.out line 2: '0' is not a prediction"),
    (None, "no transform output a.csv.out under"),
])
def test_answers_that_do_not_match_the_rows_fail(tmp_path, answers, reason):
    kept, transformed = tmp_path / "kept", tmp_path / "transformed"
    kept.mkdir()
    transformed.mkdir()
    (kept / "a.csv").write_text("Pclass,Sex,Age\n1,female,29\n3,male,\n")
    if answers is not None:
        (transformed / "a.csv.out").write_text(answers)
    code, message = run_step("predictions", tmp_path / "out", kept=kept, transformed=transformed)
    assert code == 1 and reason in message
    assert not (tmp_path / "out/predictions").exists()
