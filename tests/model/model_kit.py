"""Helpers for the example model's tests: its entry points run as plain subprocesses with the
SageMaker toolkit's `SM_*` variables pointing into temp dirs, as a container runs them under
/opt/ml. The session fixtures built on them are in model_fixtures.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from testkit import REPO, free_port

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
