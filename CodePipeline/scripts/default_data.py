"""The pipeline's default training data: the Titanic passenger list shipped in the
`bokeh-sampledata` wheel (public domain), written in the model's raw schema.

No download at run time: the CSV is read from the installed package. Rows whose label or
class is unknown are dropped here; data validation proper is the model's `prepare` step.
"""

from __future__ import annotations

import csv
from importlib.resources import files
from pathlib import Path

RAW_COLUMNS = ("Survived", "Pclass", "Sex", "Age")
CLASSES = {"1st": "1", "2nd": "2", "3rd": "3"}


def export_titanic(dest: Path) -> Path:
    """Write `Survived,Pclass,Sex,Age` rows to `dest`; returns `dest`."""
    source = files("bokeh_sampledata") / "_data" / "titanic_all.csv"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with source.open(newline="") as src, dest.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(RAW_COLUMNS)
        for row in csv.DictReader(src):
            if row["class"] not in CLASSES or row["survived"] not in ("0", "1"):
                continue
            writer.writerow((row["survived"], CLASSES[row["class"]], row["sex"], row["age"]))
    return dest


if __name__ == "__main__":
    import sys

    print(export_titanic(Path(sys.argv[1] if len(sys.argv) > 1 else "titanic.csv")))
