"""The example model (`model/`) trained by its own entry points, outside any job, for tests
that need a real model archive (endpoints, batch transform)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from testkit import REPO, TEST_DATA

MODEL_DIR = REPO / "model"


def run_entry_point(argv: list[str], env: dict[str, str]) -> None:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    done = subprocess.run([str(MODEL_DIR / argv[0]), *argv[1:]], cwd=MODEL_DIR,
                          env={**os.environ, **env, "PATH": path}, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{argv[0]} failed:\n{done.stdout}\n{done.stderr}"


def trained_model_archive(tmp_path: Path) -> Path:
    """prepare -> train on the Titanic training rows, packed as a training job packs
    model.tar.gz."""
    raw, prepared, model = tmp_path / "raw", tmp_path / "prepared", tmp_path / "model"
    raw.mkdir()
    shutil.copy(TEST_DATA / "titanic_train.csv", raw)
    run_entry_point(["prepare", "--input", str(raw), "--output", str(prepared)],
                    {"SM_OUTPUT_DIR": str(tmp_path / "prepare-output")})
    config = tmp_path / "config"
    config.mkdir()
    (config / "hyperparameters.json").write_text(json.dumps({"n_estimators": "20"}))
    run_entry_point(["train"], {
        "SM_MODEL_DIR": str(model), "SM_INPUT_CONFIG_DIR": str(config),
        "SM_OUTPUT_DIR": str(tmp_path / "train-output"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "train-output" / "data"),
        **{f"SM_CHANNEL_{c.upper()}": str(prepared / c)
           for c in ("train", "validation", "preprocessor")}})
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(model.iterdir()):
            tar.add(item, arcname=item.name)
    return archive
