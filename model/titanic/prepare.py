"""The processing job: raw passenger CSVs -> cleaned, stratified train/validation/test splits,
a preprocessor fitted on the train split, and a validation report (`--step train`, the default).

`--step inference` and `--step predictions` are the processing steps around a batch transform
(titanic/inference.py): the saved preprocessor applied to inference rows, and the transform's
answers joined back to those rows with a header."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import orjson
from sklearn.model_selection import train_test_split

from titanic.dataset import RejectedRow, Row, csv_files, read_rows, to_csv
from titanic.inference import join_predictions, prepare_inference
from titanic.job import ArgumentParser, JobFailure, run_job
from titanic.paths import (
    PREPROCESSOR_FILE,
    PROCESSING_INPUT,
    PROCESSING_KEPT,
    PROCESSING_OUTPUT,
    PROCESSING_PREPROCESSOR,
    PROCESSING_TRANSFORMED,
    output_dir,
    write_atomically,
)
from titanic.preprocessor import Preprocessor
from titanic.schema import LABEL, RAW_COLUMNS

REPORT_FILE = "validation_report.json"
REJECTED_EXAMPLES = 20  # rejected rows quoted in the report; all are counted


def fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 0.5:
        raise ValueError(text)
    return value


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="prepare", description=__doc__)
    parser.add_argument("--step", choices=("train", "inference", "predictions"), default="train",
                        help="train: split raw labelled rows and fit the preprocessor; "
                             "inference: apply a saved preprocessor to inference rows; "
                             "predictions: join a batch transform's answers to those rows")
    parser.add_argument("--input", type=Path, default=PROCESSING_INPUT,
                        help="directory of raw CSV files (train: Survived,Pclass,Sex,Age; "
                             "inference: a header naming Pclass, Sex and Age)")
    parser.add_argument("--output", type=Path, default=PROCESSING_OUTPUT)
    parser.add_argument("--seed", type=int, default=42, help="seed of the stratified split")
    parser.add_argument("--validation-fraction", type=fraction, default=0.15,
                        help="share of the rows for validation, in (0, 0.5)")
    parser.add_argument("--test-fraction", type=fraction, default=0.15,
                        help="share of the rows for test, in (0, 0.5)")
    parser.add_argument("--preprocessor", type=Path, default=PROCESSING_PREPROCESSOR,
                        help="inference: directory holding the model's preprocessor.json")
    parser.add_argument("--kept", type=Path, default=PROCESSING_KEPT,
                        help="predictions: the kept rows written by --step inference")
    parser.add_argument("--transformed", type=Path, default=PROCESSING_TRANSFORMED,
                        help="predictions: the batch transform's output (<file>.out)")
    return parser.parse_args(argv)


def split(rows: Sequence[Row], seed: int, validation: float,
          test: float) -> dict[str, list[Row]]:
    """A seeded split stratified on the label: same rows and seed, same split."""
    labels = [row.label for row in rows]
    if len(set(labels)) < 2:
        raise JobFailure(f"all {len(rows)} valid rows have {LABEL}={labels[0]}: "
                         "a classifier needs passengers of both outcomes")
    try:
        rest, test_rows = train_test_split(list(rows), test_size=test, random_state=seed,
                                           stratify=labels)
        train_rows, validation_rows = train_test_split(
            rest, test_size=validation / (1 - test), random_state=seed,
            stratify=[row.label for row in rest])
    except ValueError as error:
        raise JobFailure(f"cannot split {len(rows)} valid rows into train/validation/test "
                         f"stratified on {LABEL}: {error}") from None
    return {"train": train_rows, "validation": validation_rows, "test": test_rows}


def _class_balance(rows: Sequence[Row]) -> dict[str, int]:
    counts = Counter(row.label for row in rows)
    return {str(label): counts[label] for label in (0, 1)}


def _report(files: list[Path], rows: list[Row], rejected: list[tuple[Path, RejectedRow]],
            splits: dict[str, list[Row]]) -> dict[str, object]:
    every_row: list[Row | RejectedRow] = [*rows, *(row for _, row in rejected)]
    missing = Counter(column for row in every_row for column in row.missing)
    return {
        "inputs": [str(path) for path in files],
        "rows_in": len(rows) + len(rejected),
        "rows_out": len(rows),
        "rows_rejected": len(rejected),
        "rejected_by_reason": dict(Counter(row.kind for _, row in rejected).most_common()),
        "rejected_examples": [f"{path.name}: {row.detail}"
                              for path, row in rejected[:REJECTED_EXAMPLES]],
        "missing_values": {column: missing[column] for column in RAW_COLUMNS},
        "class_balance": _class_balance(rows),
        "splits": {name: {"rows": len(part), "class_balance": _class_balance(part)}
                   for name, part in splits.items()},
    }


def prepare(input_dir: Path, output: Path, seed: int, validation: float, test: float) -> None:
    files = csv_files(input_dir, "raw input")
    rows: list[Row] = []
    rejected: list[tuple[Path, RejectedRow]] = []
    for path in files:
        for row in read_rows(path):
            if isinstance(row, RejectedRow):
                rejected.append((path, row))
            else:
                rows.append(row)
    if not rows:
        raise JobFailure(f"no valid rows in {len(files)} raw file(s) under {input_dir} "
                         f"({len(rejected)} rejected; first: "
                         f"{rejected[0][1].detail if rejected else 'none'})")
    splits = split(rows, seed, validation, test)
    try:
        preprocessor = Preprocessor.fit([row.passenger for row in splits["train"]])
    except ValueError as error:
        raise JobFailure(f"cannot fit the preprocessor: {error}") from None
    for name, part in splits.items():
        write_atomically(output / name / f"{name}.csv", to_csv(part))
    write_atomically(output / "preprocessor" / PREPROCESSOR_FILE, preprocessor.to_json())
    report = _report(files, rows, rejected, splits)
    write_atomically(output / "report" / REPORT_FILE,
                     orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"prepare: {report['rows_out']} rows kept, {report['rows_rejected']} rejected; "
          + ", ".join(f"{name} {len(part)}" for name, part in splits.items()))


def _run(args: argparse.Namespace) -> None:
    if args.step == "inference":
        prepare_inference(args.input, args.preprocessor, args.output)
    elif args.step == "predictions":
        join_predictions(args.kept, args.transformed, args.output)
    else:
        prepare(args.input, args.output, args.seed, args.validation_fraction,
                args.test_fraction)


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(lambda: _run(_arguments(argv)), output_dir() / "message")
