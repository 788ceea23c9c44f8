"""Run an image's command as a process that sees what it would see in a SageMaker container.

Where the OS allows it (`namespaces.isolation()`: root, or user namespaces), the process runs
in a private mount namespace (through `container_init`) in which the job's sandbox directory is
bound on `/opt/ml`; a model server also gets a network namespace of its own, where it binds
8080. An image built from a Dockerfile also gets a container's filesystem: its files at their
Dockerfile paths, a /tmp of its own, its writes outside /opt/ml kept in the sandbox (a plain
directory image runs in the host's filesystem, as it always did). Elsewhere the sandbox path
is used directly (the `SM_*` variables of the SageMaker training toolkit point into it), image
paths are mapped to the image's layer on the host, and a model server listens on the port
SAGEMAKER_BIND_TO_PORT names.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sagepipe.images import Image
from sagepipe.images.build import with_python
from sagepipe.namespaces import CONTAINER_ML_ROOT, init_argv, isolation
from sagepipe.processes import Output, Process, host_environment, spawn
from sagepipe.sagemaker.relay import Broker

# One thread per process: the host runs several processes on few cores (oversubscription
# made tree models serve ~100x slower on a 2-core machine).
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SERVING_PORT = 8080  # where SageMaker expects a model server


def mount_namespaces() -> bool:
    """Whether processes see their sandbox at /opt/ml."""
    return isolation().mount


def network_namespaces() -> bool:
    """Whether each model server gets a network namespace of its own (and binds 8080)."""
    return isolation().network

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

    def launch(self, image: Image, argv: list[str], env: dict[str, str], log: Path | Output,
               broker: Broker | None = None) -> Process:
        """Start `argv` as `docker run IMAGE argv` would, output appended to a log (a file, or
        a CloudWatch log stream), in its own process group (`processes.spawn`). With a broker,
        in a network namespace of its own whose connections the broker hands out (a model
        server)."""
        ns = isolation()
        command = image.command(argv)
        contained = image.layer is not None and ns.overlay
        if image.layer is None:  # a plain directory: run from it, on this interpreter
            cwd, path = str(image.directory), [str(image.directory), str(image.interpreter_bin),
                                               os.environ.get("PATH", "")]
        else:  # the image's paths, or where they are on the host when it cannot see them
            cwd = image.workdir or "/"
            path = [p if contained else image.host_path(p)
                    for p in image.env.get("PATH", "").split(":")]
            path = with_python(path, str(image.interpreter_bin))
            if not contained:
                cwd, command = image.host_path(cwd), [image.host_path(command[0]), *command[1:]]
        full_env = {**host_environment(), **SINGLE_THREADED, **image.env, **self.toolkit_env(),
                    **env, "PATH": os.pathsep.join(path), "PYTHONUNBUFFERED": "1"}
        if not ns.mount:
            return spawn(command, log, env=full_env, cwd=Path(cwd))
        spec = {"ml": str(self.root), "layer": str(image.layer) if image.layer else None,
                "overlay": "tmpfs" if contained else None, "network": broker is not None,
                "broker_fd": broker.theirs.fileno() if broker else None,
                "port": SERVING_PORT, "cwd": cwd, "argv": command,
                "keep": [sys.prefix, sys.base_prefix]}
        try:
            return spawn(init_argv(spec), log, env=full_env,
                         pass_fds=[broker.theirs.fileno()] if broker else [])
        finally:
            if broker is not None:
                broker.started()

