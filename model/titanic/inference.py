"""Batch inference around a transform job: the two processing steps on either side of it.

`prepare --step inference` applies the preprocessor that `prepare` fitted for the model (read
from its file, never refitted) to raw passenger CSVs whose header names Pclass, Sex and Age
(any other column, an ID or the label, is carried along):
  rows/<file>   headerless `Pclass,Sex,Age` lines, Age imputed with the training median: what
                the transform job sends to the model, one line per kept row
  kept/<file>   the kept rows exactly as given, header first: what the predictions join to
  report/inference_report.json   rows in, kept and rejected (with line and reason), Ages imputed
A row the model would refuse (a class or sex unseen in training, an Age out of range) is
rejected here with its line, instead of failing the transform request that carries it.

`prepare --step predictions` joins a transform's output back: kept/<file> plus the transform's
<file>.out (one `label,probability` line per row) -> predictions/<file>, the kept rows with
PredictedSurvived and SurvivalProbability, header first. A batch transform treats every CSV line
as a record and writes no header, hence this step; it fails when the counts differ.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import orjson

from titanic.dataset import csv_files
from titanic.job import JobFailure
from titanic.paths import PREPROCESSOR_FILE, write_atomically
from titanic.preprocessor import Preprocessor, PreprocessorError
from titanic.schema import FEATURES, FieldError

REPORT_FILE = "inference_report.json"
PREDICTION_COLUMNS = ("PredictedSurvived", "SurvivalProbability")
REJECTED_EXAMPLES = 20  # rejected rows quoted in the report; all are counted

Table = tuple[list[str], list[tuple[int, list[str]]]]  # header, (line number, cells) per row


def read_table(path: Path, required: tuple[str, ...] = ()) -> Table:
    """The header and the non-blank data lines of a CSV file with the `required` columns."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [cell.strip() for cell in next(reader, [])]
            missing = [column for column in required if column not in header]
            if missing:
                raise JobFailure(f"{path}: header {','.join(header) or '(empty file)'} lacks "
                                 f"{', '.join(missing)}; inference rows need a header naming "
                                 f"{', '.join(required)} (other columns are kept)")
            rows = [(reader.line_num, cells) for cells in reader
                    if any(cell.strip() for cell in cells)]
    except UnicodeDecodeError as error:
        raise JobFailure(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise JobFailure(f"{path}: not a readable CSV file ({error})") from None
    return header, rows


def to_csv(rows: Sequence[Sequence[object]], header: list[str] | None = None,
           ) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def load_preprocessor(directory: Path) -> Preprocessor:
    try:
        return Preprocessor.load(directory / PREPROCESSOR_FILE)
    except PreprocessorError as error:
        raise JobFailure(f"preprocessor input: {error}") from None


def prepare_inference(input_dir: Path, preprocessor_dir: Path, output: Path) -> None:
    preprocessor = load_preprocessor(preprocessor_dir)
    files = csv_files(input_dir, "inference input")
    rejected: list[tuple[str, str]] = []  # (kind, detail)
    counts: Counter[str] = Counter()
    outputs: dict[Path, tuple[bytes, bytes]] = {}
    for path in files:
        name = path.relative_to(input_dir)
        header, lines = read_table(path, FEATURES)
        positions = [header.index(column) for column in FEATURES]
        kept, rows = [], []
        for line, cells in lines:
            counts["in"] += 1
            if len(cells) != len(header):
                rejected.append(("wrong number of columns", f"{name}: line {line}: {len(cells)} "
                                 f"columns, the header has {len(header)}"))
                continue
            try:
                pclass, sex, age = preprocessor.parse(*(cells[p] for p in positions))
            except FieldError as error:
                rejected.append((f"invalid {error.column}", f"{name}: line {line}, {error}"))
                continue
            counts["imputed"] += age is None
            kept.append(cells)
            rows.append((pclass, sex, repr(preprocessor.age_fill if age is None else age)))
        if kept:
            outputs[name] = to_csv(rows), to_csv(kept, header)
    if not outputs:
        first = rejected[0][1] if rejected else "the files have no data rows"
        raise JobFailure(f"no row of {len(files)} inference file(s) under {input_dir} can be "
                         f"scored ({len(rejected)} rejected; first: {first})")
    for name, (rows_csv, kept_csv) in outputs.items():
        write_atomically(output / "rows" / name, rows_csv)
        write_atomically(output / "kept" / name, kept_csv)
    report = {
        "inputs": [str(path) for path in files],
        "rows_in": counts["in"],
        "rows_kept": counts["in"] - len(rejected),
        "rows_rejected": len(rejected),
        "rejected_by_reason": dict(Counter(kind for kind, _ in rejected).most_common()),
        "rejected_examples": [detail for _, detail in rejected[:REJECTED_EXAMPLES]],
        "ages_imputed": counts["imputed"],
        "preprocessor": {"age_fill": preprocessor.age_fill,
                         "pclass_categories": preprocessor.pclass_categories,
                         "sex_codes": preprocessor.sex_codes},
    }
    write_atomically(output / "report" / REPORT_FILE,
                     orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"prepare --step inference: {report['rows_kept']} rows to score, "
          f"{report['rows_rejected']} rejected, {report['ages_imputed']} Ages imputed with "
          f"{preprocessor.age_fill:g}")


def _prediction(text: str, where: str) -> list[str]:
    """One transform answer line, `label,probability`, checked."""
    cells = text.split(",")
    try:
        valid = (len(cells) == 2 and cells[0] in ("0", "1")
                 and 0.0 <= float(cells[1]) <= 1.0)
    except ValueError:
        valid = False
    if not valid:
        raise JobFailure(f"{where}: {text!r} is not a prediction `label,probability` (label 0 "
                         "or 1, probability from 0 to 1); was the transform run with the Titanic "
                         "model and Accept text/csv?")
    return cells


def join_predictions(kept_dir: Path, transformed_dir: Path, output: Path) -> None:
    joined: dict[Path, bytes] = {}
    for path in csv_files(kept_dir, "kept rows"):
        name = path.relative_to(kept_dir)
        answers = transformed_dir / name.parent / f"{name.name}.out"
        if not answers.is_file():
            raise JobFailure(f"no transform output {name}.out under {transformed_dir} for the "
                             f"kept rows {name} (a transform job writes <input file>.out)")
        header, lines = read_table(path)
        try:
            texts = [t.strip() for t in answers.read_text(encoding="utf-8").splitlines()
                     if t.strip()]
        except UnicodeDecodeError:
            raise JobFailure(f"{answers}: not UTF-8 text") from None
        if len(texts) != len(lines):
            raise JobFailure(f"{name}.out has {len(texts)} prediction(s) for the {len(lines)} "
                             f"rows of {name}: one answer line per row is expected")
        rows = [cells + _prediction(text, f"{name}.out line {number}")
                for number, ((_, cells), text) in enumerate(zip(lines, texts, strict=True), 1)]
        joined[name] = to_csv(rows, [*header, *PREDICTION_COLUMNS])
    for name, data in joined.items():
        write_atomically(output / "predictions" / name, data)
    print(f"prepare --step predictions: predictions joined to the rows of {len(joined)} "
          "file(s)")
