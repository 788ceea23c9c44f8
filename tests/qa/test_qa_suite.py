"""qa-tests/ run as the QATests and SmokeTest builds run it (a pytest process whose boto3 the
environment points at the local AWS) against local endpoints serving really trained models:
the example model passes the QA gate; a model trained with crippling hyperparameters fails it
on accuracy; the smoke subset needs no test data; a missing endpoint fails the gate."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from api.serving_kit import create_endpoint, local_process_env, train
from testkit import MODEL_IMAGE_URI, REPO, TEST_DATA

from sagepipe.clients import client
from sagepipe.config import Settings

pytest_plugins = ["api.serving_fixtures"]

SHIPPED = json.loads((REPO / "qa-tests" / "config" / "qa.json").read_text())


def run_qa(settings: Settings, reports: Path, *args: str):
    """`python -m pytest qa-tests ...` as the buildspecs call it: (process, summary, junit)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "qa-tests", *args, "-p", "no:cacheprovider",
         "--junitxml", str(reports / "qa.xml"), "--summary-json", str(reports / "summary.json")],
        cwd=REPO, env=local_process_env(settings), capture_output=True, text=True, timeout=600,
        check=False)
    summary = json.loads((reports / "summary.json").read_text())
    return done, summary, ET.parse(reports / "qa.xml").getroot()


def failed_tests(junit: ET.Element) -> list[str]:
    return [case.get("name") for case in junit.iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None]


@pytest.fixture(scope="module")
def qa_config(tmp_path_factory) -> Path:
    """The shipped qa.json with a latency budget no loaded test machine misses: timing is for
    bench/, not tests (the budget's check runs either way)."""
    path = tmp_path_factory.mktemp("qa-config") / "qa.json"
    path.write_text(json.dumps({**SHIPPED, "latency_p95_ms": 600_000}))
    return path


def test_the_trained_model_passes_the_qa_gate(images, training, model_endpoint, qa_config,
                                              tmp_path):
    done, summary, junit = run_qa(images, tmp_path, "--endpoint-name", model_endpoint,
                                  "--stage", "qa", "--config", str(qa_config),
                                  "--test-data", training["TestDataUri"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["passed"] is True
    assert summary["accuracy"] >= summary["accuracy_floor"] == SHIPPED["accuracy_floor"]
    assert summary["errors"] == 0
    assert summary["invocations"] > SHIPPED["invocations"]  # the latency run and accuracy run
    assert summary["latency_p95_ms"] > 0
    assert summary["tests"]["failed"] == 0
    assert summary["tests"]["passed"] == int(junit.find("testsuite").get("tests"))
    assert summary["summary"].startswith(f"PASSED qa {model_endpoint}: accuracy ")
    assert summary["summary"] in done.stdout


def test_a_bad_model_fails_the_accuracy_gate(images, qa_config, tmp_path):
    bad = train(images, TEST_DATA / "titanic_train.csv", tmp_path, max_depth="1",
                n_estimators="1")
    endpoint = create_endpoint(client(images, "sagemaker"), MODEL_IMAGE_URI, bad["ModelDataUrl"])
    done, summary, junit = run_qa(images, tmp_path, "--endpoint-name", endpoint, "--stage", "qa",
                                  "--config", str(qa_config),
                                  "--test-data", str(TEST_DATA / "titanic_test.csv"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert failed_tests(junit) == ["test_accuracy_on_the_test_split_meets_the_stage_floor"]
    assert summary["passed"] is False
    assert summary["accuracy"] < SHIPPED["accuracy_floor"]
    assert f"is under the qa floor {SHIPPED['accuracy_floor']}" in done.stdout
    assert summary["summary"].startswith(f"FAILED qa {endpoint}: accuracy 0.")


def test_the_smoke_subset_needs_no_test_data(images, model_endpoint, tmp_path):
    done, summary, junit = run_qa(images, tmp_path, "--endpoint-name", model_endpoint,
                                  "--stage", "prod", "-m", "smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["passed"] is True and summary["stage"] == "prod"
    assert summary["accuracy"] is None and summary["invocations"] == 0
    names = sorted(case.get("name") for case in junit.iter("testcase"))
    assert names == ["test_bad_input_is_a_4xx_not_a_5xx[unknown Sex]", "test_csv_in_csv_out",
                     "test_json_in_json_out"]


def test_a_missing_endpoint_fails_the_gate(images, tmp_path):
    done, summary, _ = run_qa(images, tmp_path, "--endpoint-name", "no-such-endpoint",
                              "--stage", "prod", "-m", "smoke")
    assert done.returncode == 1
    assert summary["passed"] is False and summary["tests"]["failed"] == 3
    assert "Endpoint no-such-endpoint of account 000000000000 not found" in done.stdout


def test_options_it_cannot_run_with_are_usage_errors(images, tmp_path):
    for args, message in ((["--stage", "qa"], "pass --endpoint-name"),
                          (["--endpoint-name", "x", "--config", str(tmp_path / "none.json")],
                           "none.json is unusable")):
        done = subprocess.run([sys.executable, "-m", "pytest", "qa-tests", *args], cwd=REPO,
                              env=local_process_env(images), capture_output=True, text=True,
                              check=False)
        assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
        assert message in done.stderr
