"""The serving entry point: the inference app on granian, one worker process per core.

Settings come from SageMaker's hosting variables: SAGEMAKER_BIND_TO_PORT (8080),
MODEL_SERVER_HOST (0.0.0.0), SAGEMAKER_MODEL_SERVER_WORKERS (the CPU count), SM_MODEL_DIR
(/opt/ml/model). Run as root with MODEL_SERVER_USER set (the image sets it), the server drops to
that user before it starts.
"""

from __future__ import annotations

import os
import pwd
import sys
from dataclasses import dataclass
from pathlib import Path

from granian import Granian
from granian.constants import Interfaces

# Before numpy or XGBoost load in a worker: one compute thread per worker process (OpenMP
# threads of several workers on the same cores slow every request down).
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class SettingError(ValueError):
    pass


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    workers: int

    @classmethod
    def from_env(cls) -> ServerSettings:
        return cls(host=os.environ.get("MODEL_SERVER_HOST") or "0.0.0.0",  # noqa: S104 - in a container
                   port=_integer("SAGEMAKER_BIND_TO_PORT", 8080, 1, 65535),
                   workers=_integer("SAGEMAKER_MODEL_SERVER_WORKERS",
                                    len(os.sched_getaffinity(0)), 1, 512))


def _integer(variable: str, default: int, minimum: int, maximum: int) -> int:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise SettingError(f"{variable}={text!r} must be an integer from {minimum} to {maximum}")
    return int(text)


def drop_privileges(user: str) -> None:
    """Become `user` when started as root (SageMaker starts containers as root)."""
    if os.geteuid() != 0:
        return
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise SettingError(f"MODEL_SERVER_USER={user!r} is not a user of this system") from None
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    os.environ["HOME"] = entry.pw_dir


def main() -> int:
    try:
        settings = ServerSettings.from_env()
        if os.environ.get("MODEL_SERVER_USER"):
            drop_privileges(os.environ["MODEL_SERVER_USER"])
    except SettingError as error:
        print(f"serve: {error}", file=sys.stderr)
        return 2
    os.environ.update(SINGLE_THREADED)
    print(f"serve: {settings.workers} worker(s) on {settings.host}:{settings.port}", flush=True)
    # WSGI with one blocking thread per worker: the work is CPU-bound (as model/serve measured).
    Granian("xgb_algorithm.server:create_app", address=settings.host, port=settings.port,
            interface=Interfaces.WSGI, workers=settings.workers, blocking_threads=1,
            factory=True, websockets=False, log_access=False,
            working_dir=Path(__file__).resolve().parents[1]).serve()
    return 0
