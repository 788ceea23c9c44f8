"""Session fixtures of the example model's tests: one prepared dataset, one trained model, one
server. Test modules load them with `pytest_plugins = ["model_fixtures"]`: as a plugin they run
once per session (a conftest.py here would shadow tests/conftest.py for `from testkit import`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from model_kit import raw_dir, run, run_prepare, start_server, stop, training_env
from testkit import TEST_DATA


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
