"""Fixtures that start a real local AWS (a gateway process) and real boto3 clients for it, and
how the suite is spread over parallel workers (`pytest -n 2`, pytest-xdist).

Each worker is a pytest session of its own: its own basetemp (`<basetemp>/gw0`, ...), its own
`local_aws` on its own free port and home, its own session fixtures. The tests that share an
expensive session fixture (a model trained by real jobs, a local AWS of a folder's own, a
packaged API) are sent to one worker together, so that it is built once per run, not once per
worker; everything else is spread module by module (a module's tests stay on one worker, so
module fixtures are built once too).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from testkit import MODEL_IMAGE_URI, REPO, aws_cli_v2, client_for, free_port

from sagepipe.config import Settings
from sagepipe.images import ImageRegistry
from sagepipe.server import start_background, stop
from sagepipe.store import Store

# Credentials for moto and the Stubber only: the local AWS refuses them, so every test that
# reaches it must use the credentials of its home (`client_for`, `local_env`, `signed_http`).
os.environ.update({"AWS_ACCESS_KEY_ID": "AKIAMOTOONLY00000000", "AWS_SECRET_ACCESS_KEY": "moto",
                   "AWS_DEFAULT_REGION": "us-east-1"})
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


# The fixtures that start a local AWS (a gateway process): the tests that use one are marked
# `local_aws`. Modules whose tests start their own say so with `pytestmark`.
GATEWAYS = {"local_aws", "inference_aws", "fuzz_aws"}

# The groups that take longest (measured: `pytest --durations`), started first; a group's name
# is its first module's path, matched here by a part of it. Scheduling only.
SLOW_FIRST = ()

# Session fixtures that every worker builds for itself (cheap, or per worker by design): they
# do not tie the tests that use them to one worker.
PER_WORKER = {"local_aws", "cli_v2", "tmp_path_factory", "worker_id", "testrun_uid",
              "monkeypatch", "pytestconfig", "record_testsuite_property"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "local_aws: the test runs against a local AWS (set by the root conftest from "
        "the fixtures it uses, or by the module for tests that start their own); "
        "`make test-fast` leaves these out")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that need a local AWS (`-m "not local_aws"`: the inner loop), put each
    test in its xdist group (`--dist loadgroup`: one group runs on one worker), and order the
    groups so the longest start first (a long group started last makes the run as long as
    it). Scheduling only: no test depends on which worker runs it or in which order."""
    groups = _groups(items)
    for item in items:
        if GATEWAYS & set(item.fixturenames):
            item.add_marker(pytest.mark.local_aws)
        item.add_marker(pytest.mark.xdist_group(groups[item.path]))
    rank = {group: index for index, group in enumerate(
        dict.fromkeys(groups[item.path] for item in items))}

    def slowness(item: pytest.Item) -> tuple[int, int]:
        group = groups[item.path]
        slow = next((i for i, part in enumerate(SLOW_FIRST) if part in group), len(SLOW_FIRST))
        return slow, rank[group]

    items.sort(key=slowness)  # stable: the order within a group is kept


def _session_fixtures(item: pytest.Item) -> dict[str, object]:
    """The session-scoped fixtures `item` uses (directly or through other fixtures)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return {}
    return {name: defs[-1] for name, defs in info.name2fixturedefs.items()
            if defs and defs[-1].scope == "session"}


def _groups(items: list[pytest.Item]) -> dict[object, str]:
    """Test module -> its xdist group: the modules that use one (non-per-worker) session
    fixture joined into one group (union-find), named after its first module."""
    parent: dict[object, object] = {}

    def root(path: object) -> object:
        while parent.setdefault(path, path) != path:
            path = parent[path]
        return path

    owner: dict[int, object] = {}
    for item in items:
        for name, fixturedef in _session_fixtures(item).items():
            if name in PER_WORKER:
                continue
            first = owner.setdefault(id(fixturedef), item.path)
            parent[root(item.path)] = root(first)
    names: dict[object, str] = {}
    for item in items:
        top = root(item.path)
        names.setdefault(top, str(item.path.relative_to(item.config.rootpath)))
    return {item.path: names[root(item.path)] for item in items}


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One local AWS for the whole session, with the example model registered as an image."""
    settings = Settings(home=tmp_path_factory.mktemp("sagepipe-home"), port=free_port())
    start_background(settings)
    ImageRegistry(Store(settings.db_path)).register(REPO / "model", MODEL_IMAGE_URI)
    yield settings
    stop(settings)


@pytest.fixture
def aws(local_aws: Settings) -> Callable[[str], object]:
    """`aws("s3")` -> a real boto3 client pointed at the session's local AWS."""
    return lambda service: client_for(local_aws, service)


@pytest.fixture
def s3(aws):
    return aws("s3")


@pytest.fixture(scope="session")
def cli_v2() -> str:
    """The AWS CLI version 2's `aws` (for `aws logs tail`); the test is skipped without it."""
    path = aws_cli_v2()
    if path is None:
        pytest.skip("AWS CLI version 2 is not installed (`apt-get install awscli` on Debian 12, "
                    "or AWS's installer): `aws logs tail` is a v2 command")
    return path
