"""QA gate for a SageMaker endpoint serving the Titanic model, in AWS or on the local AWS:

    python -m pytest qa-tests --endpoint-name NAME --stage qa|prod \
        [--test-data s3://bucket/.../test/ | split.csv] [--config FILE] \
        [--model-version TRAINING_JOB_NAME] [--api-url URL] \
        [--junitxml reports/qa.xml] [--summary-json reports/qa-summary.json]

It fails when the model or the endpoint is not fit for the stage: accuracy on the held-out
test split under the stage's floor, responses off the contract, bad input not answered with a
4xx, p95 latency over budget, or any failed invocation. The gate per stage is config/<stage>.json.
`-m smoke` runs the fast subset, which needs no test data; with --model-version it checks that
the endpoint serves that model (a rolled-back canary does not), with --api-url that the API
answers signed calls with it. AWS is reached through boto3 only,
so the usual environment picks the account, region and (locally) AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from qa_kit import CLIENT_CONFIG, Gate, Metrics, Passenger, QaSetupError, load_test_split

STAGES = ("qa", "prod")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qa", "QA gate of a SageMaker endpoint")
    group.addoption("--endpoint-name", help="the endpoint under test (required)")
    group.addoption("--stage", choices=STAGES, default="qa",
                    help="whose gate applies (config/<stage>.json)")
    group.addoption("--config", type=Path,
                    help="a stage config file to use instead of config/<stage>.json")
    group.addoption("--test-data", help="held-out test split: s3://bucket/prefix/ (TestDataUri of "
                    "the training launcher's training.json), a CSV file or a folder of CSVs")
    group.addoption("--summary-json", type=Path, help="where to write the summary JSON")
    group.addoption("--model-version", help="the model version the endpoint must serve: the "
                    "release's training job name (TRAINING_JOB_NAME of the Train action)")
    group.addoption("--api-url", help="base URL of the prediction API in front of the "
                    "endpoint (the API stack's EndpointURL output), called SigV4-signed")


class QaReport:
    """Collects the outcome of each test and the gate's metrics; writes the summary JSON."""

    def __init__(self, config: pytest.Config, gate: Gate) -> None:
        self.endpoint = config.getoption("endpoint_name")
        self.path = config.getoption("summary_json")
        self.gate = gate
        self.metrics = Metrics()
        self.outcomes: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.skipped:
            self.outcomes.setdefault(report.nodeid, "skipped")
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")

    def summary(self, exitstatus: int) -> dict[str, Any]:
        counts = Counter(self.outcomes.values())
        passed = exitstatus == 0 and counts["failed"] == 0 and counts["passed"] > 0
        p95 = self.metrics.p95_ms()
        accuracy = self.metrics.accuracy
        line = (f"{'PASSED' if passed else 'FAILED'} {self.gate.stage} {self.endpoint}: "
                f"accuracy {'n/a' if accuracy is None else f'{accuracy:.3f}'} "
                f"(floor {self.gate.accuracy_floor}), p95 "
                f"{'n/a' if p95 is None else f'{p95:.0f} ms'} (budget "
                f"{self.gate.latency_p95_ms:.0f} ms), {len(self.metrics.latencies_ms)} "
                f"invocations, {len(self.metrics.errors)} errors; tests {counts['passed']} "
                f"passed, {counts['failed']} failed, {counts['skipped']} skipped")
        return {"endpoint": self.endpoint, "stage": self.gate.stage, "passed": passed,
                "accuracy": accuracy, "accuracy_floor": self.gate.accuracy_floor,
                "latency_p95_ms": p95, "latency_budget_ms": self.gate.latency_p95_ms,
                "invocations": len(self.metrics.latencies_ms),
                "errors": len(self.metrics.errors), "error_examples": self.metrics.errors[:5],
                "tests": {"passed": counts["passed"], "failed": counts["failed"],
                          "skipped": counts["skipped"]},
                "summary": line}

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.summary(int(exitstatus)), indent=2) + "\n")

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        terminalreporter.write_line(self.summary(int(exitstatus))["summary"])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "smoke: the fast subset run after a prod deploy "
                            "(no test data needed)")
    if config.option.help or config.option.collectonly:
        return
    if not config.getoption("endpoint_name"):
        raise pytest.UsageError("pass --endpoint-name: the QA suite tests one endpoint")
    try:
        gate = Gate.load(config.getoption("stage"), config.getoption("config"))
    except QaSetupError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(QaReport(config, gate), "qa-report")


def _report(config: pytest.Config) -> QaReport:
    report = config.pluginmanager.get_plugin("qa-report")
    if not isinstance(report, QaReport):
        raise pytest.UsageError("the QA report plugin is not registered (pytest_configure)")
    return report


@pytest.fixture(scope="session")
def endpoint(pytestconfig: pytest.Config) -> str:
    return pytestconfig.getoption("endpoint_name")


@pytest.fixture(scope="session")
def gate(pytestconfig: pytest.Config) -> Gate:
    return _report(pytestconfig).gate


@pytest.fixture(scope="session")
def metrics(pytestconfig: pytest.Config) -> Metrics:
    return _report(pytestconfig).metrics


@pytest.fixture(scope="session")
def model_version(pytestconfig: pytest.Config) -> str:
    version = pytestconfig.getoption("model_version")
    if not version:
        pytest.skip("no --model-version: which model the endpoint serves is not checked")
    return version


@pytest.fixture(scope="session")
def api_url(pytestconfig: pytest.Config) -> str:
    url = pytestconfig.getoption("api_url")
    if not url:
        pytest.skip("no --api-url: the API in front of the endpoint is not called")
    return url if url.endswith("/") else url + "/"


@pytest.fixture(scope="session")
def runtime() -> Any:
    return boto3.client("sagemaker-runtime", config=CLIENT_CONFIG)


@pytest.fixture(scope="session")
def held_out(pytestconfig: pytest.Config) -> list[Passenger]:
    spec = pytestconfig.getoption("test_data")
    if not spec:
        pytest.fail("no --test-data: pass the held-out test split (TestDataUri from the "
                    "training launcher's training.json, or a CSV path)", pytrace=False)
    try:
        return load_test_split(spec)
    except QaSetupError as exc:
        pytest.fail(str(exc), pytrace=False)
