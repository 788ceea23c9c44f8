"""Run an image's entry point as a process that sees SageMaker's `/opt/ml` layout.

Where the OS allows it (root, or user namespaces), the process gets a private mount namespace
in which the job's sandbox directory is bind-mounted on `/opt/ml`, so code written for a real
container runs unchanged. Elsewhere the sandbox path is used directly and the `SM_*`
variables of the SageMaker training toolkit point into it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from sagepipe.processes import Output, Process, spawn

CONTAINER_ML_ROOT = Path("/opt/ml")
# One thread per process: the host runs several processes on few cores (oversubscription
# made tree models serve ~100x slower on a 2-core machine).
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_BIND_AND_EXEC = 'mount --bind "$1" /opt/ml && shift && exec "$@"'


@lru_cache(maxsize=1)
def mount_namespaces() -> bool:
    """Whether `unshare --mount` can bind a sandbox onto /opt/ml on this machine."""
    if shutil.which("unshare") is None:
        return False
    try:
        CONTAINER_ML_ROOT.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", _BIND_AND_EXEC,
         "sh", "/", "true"], capture_output=True, timeout=10, check=False)
    return probe.returncode == 0


class Sandbox:
    """A job's or a serving variant's private `/opt/ml` tree on the host."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("input/config", "input/data", "model", "output/data", "code"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def visible_root(self) -> Path:
        """The path the process sees for this sandbox: /opt/ml when namespaced."""
        return CONTAINER_ML_ROOT if mount_namespaces() else self.root

    def visible(self, container_path: str) -> str:
        """Map an `/opt/ml/...` path from an API request to what the process sees."""
        path = Path(container_path)
        if path.is_relative_to(CONTAINER_ML_ROOT):
            return str(self.visible_root / path.relative_to(CONTAINER_ML_ROOT))
        return container_path

    def host(self, container_path: str) -> Path:
        """Map an `/opt/ml/...` path to its place on the host."""
        path = Path(container_path)
        if not path.is_relative_to(CONTAINER_ML_ROOT):
            raise ValueError(f"{container_path} is not under {CONTAINER_ML_ROOT}")
        return self.root / path.relative_to(CONTAINER_ML_ROOT)

    def toolkit_env(self) -> dict[str, str]:
        """The path variables of the SageMaker training toolkit, as the process sees them."""
        ml = self.visible_root
        return {
            "SM_MODEL_DIR": str(ml / "model"),
            "SM_INPUT_DIR": str(ml / "input"),
            "SM_INPUT_DATA_DIR": str(ml / "input/data"),
            "SM_INPUT_CONFIG_DIR": str(ml / "input/config"),
            "SM_OUTPUT_DIR": str(ml / "output"),
            "SM_OUTPUT_DATA_DIR": str(ml / "output/data"),
            "SM_OUTPUT_INTERMEDIATE_DIR": str(ml / "output/intermediate"),
        }

    def launch(self, image_dir: Path, argv: list[str], env: dict[str, str],
               log: Path | Output) -> Process:
        """Start `argv` from the image directory (on PATH, as cwd), output appended to a log
        (a file, or a CloudWatch log stream), in its own process group (`processes.spawn`)."""
        # The image's own directory first, then this interpreter's (the local stand-in for the
        # container's Python and its site-packages), then the host's PATH.
        path = os.pathsep.join([str(image_dir), str(Path(sys.executable).parent),
                                os.environ.get("PATH", "")])
        full_env = {**os.environ, **SINGLE_THREADED, **self.toolkit_env(), **env, "PATH": path,
                    "PYTHONUNBUFFERED": "1"}
        command = list(argv)
        if mount_namespaces():
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       _BIND_AND_EXEC, "sh", str(self.root), *command]
        return spawn(command, log, env=full_env, cwd=image_dir)
