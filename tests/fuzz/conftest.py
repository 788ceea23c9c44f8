"""Fixtures of the fuzz suite: a local AWS of its own for the protocol fuzzers (what they create,
such as buckets with generated names, stays out of the session's), and tests/model's fixtures
(the example model prepared, trained and served once per session) as the `model_fixtures`
plugin, as tests/model's own modules load them; that folder is put on the import path for it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit import free_port

from sagepipe.config import Settings
from sagepipe.server import start_background, stop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))


@pytest.fixture(scope="session")
def fuzz_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = Settings(home=tmp_path_factory.mktemp("fuzz-home"), port=free_port())
    start_background(settings)
    yield settings
    stop(settings)
