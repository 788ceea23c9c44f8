"""Helpers for the XGBoost image's tests: the abalone rows prepared as the abalone workflow
prepares them, and the image's `train` and `serve` run as plain subprocesses with SageMaker's
`SM_*` variables pointing into temp dirs, as a container runs them under /opt/ml."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from testkit import REPO, free_port

IMAGE_DIR = REPO / "workflows" / "images" / "xgboost"
ABALONE = REPO / "workflows" / "data" / "abalone.csv"
SEXES = ("F", "I", "M")  # one-hot columns, in this order, before the 7 measurements


@dataclass(frozen=True)
class Split:
    labels: np.ndarray  # rings
    features: np.ndarray  # sex one-hot, then the measurements

    def csv(self, label: bool = True) -> str:
        return "".join(",".join(([repr(float(y))] if label else []) + [repr(float(v)) for v in row])
                       + "\n" for y, row in zip(self.labels, self.features, strict=True))

    def libsvm(self, label: bool = True) -> str:
        """Every value written out, zeros included, so the matrix equals the CSV's."""
        return "".join(" ".join(([repr(float(y))] if label else [])
                                + [f"{index}:{float(v)!r}" for index, v in enumerate(row)]) + "\n"
                       for y, row in zip(self.labels, self.features, strict=True))


def abalone_splits(seed: int = 0, validation_share: float = 0.2) -> dict[str, Split]:
    """A seeded shuffle of the 4,177 abalone rows, split train / validation."""
    with ABALONE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    random.Random(seed).shuffle(rows)
    measurements = [name for name in rows[0] if name not in ("sex", "rings")]

    def split(part: list[dict[str, str]]) -> Split:
        return Split(np.array([float(row["rings"]) for row in part], dtype=np.float32),
                     np.array([[float(row["sex"] == sex) for sex in SEXES]
                               + [float(row[name]) for name in measurements] for row in part],
                              dtype=np.float32))

    cut = round(len(rows) * (1 - validation_share))
    return {"train": split(rows[:cut]), "validation": split(rows[cut:])}


def entry_point_env(**variables: str | Path) -> dict[str, str]:
    """This environment with the venv's python3 first on PATH, plus `variables`."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    return {**os.environ, "PATH": path, **{k: str(v) for k, v in variables.items()}}


@dataclass(frozen=True)
class Job:
    done: subprocess.CompletedProcess[str]
    model_dir: Path
    failure: str | None


def train(root: Path, channels: dict[str, tuple[str, str]],
          hyperparameters: dict[str, object]) -> Job:
    """`train` with channel name -> (data, ContentType), each written to a file of its own."""
    config = root / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {name: {"ContentType": content_type} for name, (_, content_type) in channels.items()}))
    variables: dict[str, str | Path] = {
        "SM_MODEL_DIR": root / "model", "SM_INPUT_CONFIG_DIR": config,
        "SM_OUTPUT_DIR": root / "output", "SM_INPUT_DATA_DIR": root / "data"}
    for name, (data, _) in channels.items():
        (root / "data" / name).mkdir(parents=True)
        (root / "data" / name / f"{name}.data").write_text(data)
    done = subprocess.run([str(IMAGE_DIR / "train")], cwd=IMAGE_DIR,
                          env=entry_point_env(**variables), capture_output=True, text=True,
                          timeout=300, check=False)
    failure = root / "output" / "failure"
    return Job(done, root / "model", failure.read_text().strip() if failure.exists() else None)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session, workers included."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_server(model_dir: Path, **variables: str) -> tuple[subprocess.Popen[bytes], str]:
    """`serve` (one worker) on a free local port, once /ping answers 200: (process, URL)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [str(IMAGE_DIR / "serve")], cwd=IMAGE_DIR, start_new_session=True, stdout=log,
            stderr=subprocess.STDOUT,
            env=entry_point_env(**{"SM_MODEL_DIR": model_dir, "SAGEMAKER_BIND_TO_PORT": str(port),
                                   "MODEL_SERVER_HOST": "127.0.0.1",
                                   "SAGEMAKER_MODEL_SERVER_WORKERS": "1", **variables}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                    return process, url
            except httpx.TransportError:
                time.sleep(0.1)
        stop(process)
        log.seek(0)
        raise AssertionError(f"serve did not come up:\n{log.read().decode()}")
