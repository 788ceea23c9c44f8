"""Helpers for the example model's tests: its entry points run as plain subprocesses with the
SageMaker toolkit's `SM_*` variables pointing into temp dirs, as a container runs them under
/opt/ml; and the session fixtures built on them (one prepared dataset, one trained model, one
server), which test modules load with `pytest_plugins = ["model_kit"]`: as a plugin they run once
per session (a conftest.py here would shadow tests/conftest.py for `from testkit import`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from testkit import REPO, TEST_DATA, free_port

from sagepipe.processes import terminate

MODEL_DIR = REPO / "model"
CHANNELS = ("train", "validation", "preprocessor")


def entry_point_env(**variables: str | Path) -> dict[str, str]:
    """This environment with the venv's python3 first on PATH, plus `variables`."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    return {**os.environ, "PATH": path, **{k: str(v) for k, v in variables.items()}}


def run(entry_point: str, *args: str | Path, **variables: str | Path,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MODEL_DIR / entry_point), *map(str, args)], cwd=MODEL_DIR,
                          env=entry_point_env(**variables), capture_output=True, text=True,
                          timeout=300, check=False)


def run_prepare(raw: Path, output: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run("prepare", "--input", raw, "--output", output, *args,
               SM_OUTPUT_DIR=output.parent / f"{output.name}-sm-output")


def training_env(root: Path, prepared: Path, **variables: str | Path) -> dict[str, str | Path]:
    """SageMaker training variables for a job under `root` reading `prepared` splits."""
    (root / "config").mkdir(parents=True, exist_ok=True)
    return {"SM_MODEL_DIR": root / "model", "SM_INPUT_CONFIG_DIR": root / "config",
            "SM_OUTPUT_DIR": root / "output", "SM_OUTPUT_DATA_DIR": root / "output/data",
            **{f"SM_CHANNEL_{name.upper()}": prepared / name for name in CHANNELS},
            **variables}


def raw_dir(tmp: Path, *files: Path) -> Path:
    raw = tmp / "raw"
    raw.mkdir(parents=True)
    for path in files:
        shutil.copy(path, raw)
    return raw


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server started in its own session, workers included."""
    terminate(process, grace=15)


def start_server(model_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """`serve` on a free local port, once its /ping answers 200: (process, base URL)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [str(MODEL_DIR / "serve")], cwd=MODEL_DIR, start_new_session=True,
            stdout=log, stderr=subprocess.STDOUT,
            env=entry_point_env(SM_MODEL_DIR=model_dir, SAGEMAKER_BIND_TO_PORT=str(port),
                                MODEL_SERVER_HOST="127.0.0.1",
                                SAGEMAKER_MODEL_SERVER_WORKERS=str(workers)))
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


# The session fixtures (pytest_plugins = ["model_kit"]).


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`prepare` run once on the Titanic training rows: its output directory."""
    tmp = tmp_path_factory.mktemp("prepared")
    done = run_prepare(raw_dir(tmp, TEST_DATA / "titanic_train.csv"), tmp / "output")
    assert done.returncode == 0, done.stderr
    return tmp / "output"


@dataclass(frozen=True)
class Trained:
    model_dir: Path
    output_dir: Path
    stdout: str


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, prepared: Path) -> Trained:
    """`train` run once with default hyperparameters (given as SageMaker gives them: {})."""
    root = tmp_path_factory.mktemp("trained")
    env = training_env(root, prepared)
    (root / "config/hyperparameters.json").write_text("{}")
    done = run("train", **env)
    assert done.returncode == 0, done.stderr
    return Trained(root / "model", root / "output", done.stdout)


@pytest.fixture(scope="session")
def server(trained: Trained) -> Iterator[httpx.Client]:
    """One `serve` of the session's model, two workers; an HTTP client for it."""
    process, url = start_server(trained.model_dir, workers=2)
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client
    stop(process)
