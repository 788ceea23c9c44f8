"""Fixtures that start a real local AWS (a gateway process) and real boto3 clients for it, and
how the suite is spread over parallel workers (`pytest -n 4`, pytest-xdist).

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
from pathlib import Path

import pytest
from testkit import MODEL_IMAGE_URI, REPO, aws_cli_v2, client_for, free_port, register_image

from sagepipe.config import Settings
from sagepipe.server import start_background, stop

# Helper modules with asserts that test modules load as plugins (`pytest_plugins = [...]`) and
# also import by name: marked here, before any test module imports them, so their asserts are
# rewritten (pytest warned "Module already imported so cannot be rewritten" otherwise).
pytest.register_assert_rewrite("serving_kit", "model_kit")

# Credentials for moto and the Stubber only: the local AWS refuses them, so every test that
# reaches it must use the credentials of its home (`client_for`, `local_env`, `signed_http`).
os.environ.update({"AWS_ACCESS_KEY_ID": "AKIAMOTOONLY00000000", "AWS_SECRET_ACCESS_KEY": "moto",
                   "AWS_DEFAULT_REGION": "us-east-1"})
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


# The tests the pipeline's UnitTests action runs in AWS (CodePipeline/buildspecs/test.yml:
# `pytest -m aws_unit`, with requirements/unit.txt installed): they read templates, policies and
# code, and need no local AWS. A module opts in with `pytestmark = pytest.mark.aws_unit`.
AWS_UNIT = "aws_unit"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m aws_unit`, a test module without the marker, or a folder without such a
    module, is not even imported (nor its conftest.py): it may import what the UnitTests action
    does not install (moto, hypothesis)."""
    if config.getoption("markexpr") != AWS_UNIT:
        return None
    if collection_path.is_dir():
        modules = collection_path.rglob("test_*.py")
    elif collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        modules = iter([collection_path])
    else:
        return None
    # None, not False, when it is kept: a folder's own collect_ignore still applies
    return None if any(AWS_UNIT in module.read_text() for module in modules) else True


# The fixtures that start a local AWS (a gateway process): the tests that use one are marked
# `local_aws`. Modules whose tests start their own say so with `pytestmark`.
GATEWAYS = {"local_aws", "inference_aws", "fuzz_aws"}

# The groups and modules that take longest (measured: `pytest --durations`), started first: a
# group by its name (`<folder>.<fixture>`, see _groups), a module by its path under tests/.
# Scheduling only: a name missing here just starts in collection order.
SLOW_FIRST = ("pipeline/test_four_doors.py", "pipeline/test_real_pipeline.py", "apigateway.images",
              "pipeline/test_template_pipeline.py", "batch_inference.inference_aws",
              "workflows.local", "service.prepared", "containers/test_sagemaker_sdk.py",
              "policy.packaged_api", "model.prepared")

# Session fixtures that every worker builds for itself (cheap, or per worker by design): they
# do not tie the tests that use them to one worker.
PER_WORKER = {"local_aws", "cli_v2", "tmp_path_factory", "worker_id", "testrun_uid",
              "monkeypatch", "pytestconfig", "record_testsuite_property"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "local_aws: the test runs against a local AWS (set by the root conftest from "
        "the fixtures it uses, or by the module for tests that start their own); "
        "`make test-fast` leaves these out")
    config.addinivalue_line(
        "markers", "slow: seconds of a tool outside pytest (cfn-lint, a venv of its own) with no "
        "local AWS; `make test-fast` leaves these out too")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that need a local AWS (`-m "not local_aws"`: the inner loop), tie the
    modules that share a session fixture into one xdist group (`--dist loadgroup`: a group, or
    else a module, runs on one worker), and start the longest groups first (one started last
    would make the run as long as it). Scheduling only: no test depends on which worker runs it
    or in which order. A test marked aws_unit that asks for the local AWS is a mistake: the run
    is refused."""
    wrong = [item.nodeid for item in items if item.get_closest_marker(AWS_UNIT)
             and "local_aws" in getattr(item, "fixturenames", ())]
    if wrong:
        raise pytest.UsageError(f"marked {AWS_UNIT} but using the local AWS: {wrong}")
    groups = _groups(items)
    for item in items:
        if GATEWAYS & set(item.fixturenames):
            item.add_marker(pytest.mark.local_aws)
    if getattr(config.option, "loadgroup", False):  # xdist sets it in its workers
        for item in items:
            if item.path in groups:
                _join_group(item, groups[item.path])
    order = {path: index for index, path in enumerate(dict.fromkeys(i.path for i in items))}

    def slowness(item: pytest.Item) -> tuple[int, int]:
        name = groups.get(item.path) or item.path.relative_to(config.rootpath / "tests").as_posix()
        slow = SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)
        first = min(order[path] for path, group in groups.items()
                    if group == groups[item.path]) if item.path in groups else order[item.path]
        return slow, first

    items.sort(key=slowness)  # stable: the order within a module is kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`--dist loadgroup` as the suite needs it: a test of a group runs with its group, any
    other with its module (xdist's own loadgroup spreads ungrouped tests one by one, which would
    build a module's fixtures on every worker)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupOrModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.rfind("@") > nodeid.rfind("]"):
                return nodeid.rsplit("@", 1)[1]
            return nodeid.split("::", 1)[0]

    return GroupOrModule(config, log)


def _join_group(item: pytest.Item, group: str) -> None:
    """`item` in xdist group `group`: the `@group` suffix xdist's loadgroup scheduler reads.
    xdist 3.8 writes it to `item._nodeid`, which pytest 9.2 no longer reads (its node id is
    `item._id`, a NodeId), so the `xdist_group` mark alone groups nothing: set it here."""
    item._id = type(item._id).parse(f"{item.nodeid}@{group}")  # type: ignore[attr-defined]


def _session_fixtures(item: pytest.Item) -> dict[str, object]:
    """The session-scoped fixtures `item` uses (directly or through other fixtures)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return {}
    return {name: defs[-1] for name, defs in info.name2fixturedefs.items()
            if defs and defs[-1].scope == "session"}


def _groups(items: list[pytest.Item]) -> dict[object, str]:
    """Module -> group, for the modules that share a session fixture (other than the per-worker
    ones) with another module: joined by union-find, each group named after its first module's
    folder and the fixture that first tied it (`apigateway.images`)."""
    parent: dict[object, object] = {}

    def root(path: object) -> object:
        while parent.setdefault(path, path) != path:
            path = parent[path]
        return path

    owner: dict[int, object] = {}
    tie: dict[object, str] = {}
    for item in items:
        for name, fixturedef in _session_fixtures(item).items():
            if name in PER_WORKER:
                continue
            first = owner.setdefault(id(fixturedef), item.path)
            if root(item.path) != root(first):
                tie.setdefault(root(first), name)
                parent[root(item.path)] = root(first)
    members: dict[object, list[object]] = {}
    for path in dict.fromkeys(item.path for item in items):
        members.setdefault(root(path), []).append(path)
    groups: dict[object, str] = {}
    for top, paths in members.items():
        if len(paths) > 1:
            name = f"{paths[0].parent.name}.{tie[top]}"  # type: ignore[attr-defined]
            groups.update(dict.fromkeys(paths, name))
    return groups


@pytest.fixture(scope="session")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One local AWS for the whole session, with the example model registered as an image."""
    settings = Settings(home=tmp_path_factory.mktemp("sagepipe-home"), port=free_port())
    start_background(settings)
    register_image(settings, REPO / "model", MODEL_IMAGE_URI)
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
