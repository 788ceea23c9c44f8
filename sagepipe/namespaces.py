"""What this machine lets the local AWS do to run an image like a container, found out once per
process by trying it (`container_init` with `probe`):

- `mount`: a private mount namespace, in which the job's sandbox is bound on /opt/ml (an empty
  /opt/ml on the host is its mount point);
- `overlay`: a writable layer over every top-level directory of `/` and a /tmp of its own (the
  image's files at their Dockerfile paths, writes kept in the sandbox);
- `network`: a network namespace of its own for each model server, which binds 8080.

Root has all three; an unprivileged user has them where the kernel allows user namespaces.
Without `network` a model server must listen on the port SAGEMAKER_BIND_TO_PORT names; without
`mount` it sees its sandbox at its host path (the SM_* variables say where). SAGEPIPE_ISOLATION
(`full`, `mount`, `none`) caps what is used: to compare, or to run as on a machine that allows
less.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
CONTAINER_ML_ROOT = Path("/opt/ml")
LEVELS = ("none", "mount", "full")


@dataclass(frozen=True)
class Isolation:
    mount: bool
    overlay: bool
    network: bool


NONE = Isolation(mount=False, overlay=False, network=False)


def init_argv(spec: dict[str, Any]) -> list[str]:
    """The command that runs `spec` (see container_init) in its namespaces."""
    return [sys.executable, "-m", "sagepipe.container_init", json.dumps(spec)]


def _works(spec: dict[str, Any]) -> bool:
    with tempfile.TemporaryDirectory() as ml:
        try:
            probe = subprocess.run(init_argv({**spec, "ml": ml, "probe": True}),
                                   capture_output=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return probe.returncode == 0


@lru_cache(maxsize=1)
def isolation() -> Isolation:
    """The isolation this machine allows (and SAGEPIPE_ISOLATION permits)."""
    level = os.environ.get("SAGEPIPE_ISOLATION", "full")
    if level not in LEVELS:
        log.warning("SAGEPIPE_ISOLATION=%s is none of %s: using full", level, ", ".join(LEVELS))
        level = "full"
    found = NONE
    if level != "none" and _host_ml_root() and _works({}):
        full = level == "full"
        found = Isolation(mount=True, overlay=full and _works({"overlay": "tmpfs"}),
                          network=full and _works({"network": True}))
    log.info("containers: %s", found)
    return found


def _host_ml_root() -> bool:
    try:
        CONTAINER_ML_ROOT.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return True
