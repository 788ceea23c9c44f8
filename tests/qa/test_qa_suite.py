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
from serving_kit import (
    api_parameters,
    create_endpoint,
    local_process_env,
    package_api,
    train,
)
from testkit import MODEL_IMAGE_URI, REPO, STUB_IMAGE, TEST_DATA, unique

from sagepipe.clients import client
from sagepipe.cloudformation.providers import Context
from sagepipe.cloudformation.stacks import Stacks
from sagepipe.cloudformation.template import load
from sagepipe.config import Settings
from sagepipe.store import Store

pytest_plugins = ["serving_kit"]

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
                                  "--test-data", training["TestDataUri"],
                                  "--model-version", training["TrainingJobName"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["passed"] is True
    assert summary["accuracy"] >= summary["accuracy_floor"] == SHIPPED["accuracy_floor"]
    assert summary["errors"] == 0
    assert summary["invocations"] > SHIPPED["invocations"]  # the latency run and accuracy run
    assert summary["latency_p95_ms"] > 0
    assert summary["tests"]["failed"] == 0
    # Everything ran but the API's tests: the QA stage has no API in front of its endpoint.
    assert summary["tests"]["skipped"] == 2
    assert summary["tests"]["passed"] + 2 == int(junit.find("testsuite").get("tests"))
    assert summary["summary"].startswith(f"PASSED qa {model_endpoint}: accuracy ")
    assert summary["summary"] in done.stdout


def test_a_bad_model_fails_the_accuracy_gate(images, qa_config, tmp_path):
    bad = train(images, TEST_DATA / "titanic_train.csv", tmp_path, max_depth="1",
                n_estimators="1")
    endpoint = create_endpoint(client(images, "sagemaker"), MODEL_IMAGE_URI, bad["ModelDataUrl"])
    done, summary, junit = run_qa(images, tmp_path, "--endpoint-name", endpoint, "--stage", "qa",
                                  "--config", str(qa_config),
                                  # `=`: pytest's first pass reads the value of an option
                                  # it does not know yet as a test path, and would load
                                  # tests/conftest.py (moto's credentials, no endpoint)
                                  f"--test-data={TEST_DATA / 'titanic_test.csv'}")
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
    ran = sorted(case.get("name") for case in junit.iter("testcase")
                 if case.find("skipped") is None)
    assert ran == ["test_bad_input_is_a_4xx_not_a_5xx[unknown Sex]", "test_csv_in_csv_out",
                   "test_json_in_json_out"]
    assert summary["tests"]["skipped"] == 3  # no --model-version, no --api-url


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


@pytest.fixture(scope="module")
def api_in_front(images: Settings, model_endpoint: str, tmp_path_factory) -> str:
    """The packaged API deployed by the local CloudFormation in front of the model endpoint:
    its EndpointURL (served on 127.0.0.1, IAM auth), as DeployApi outputs it."""
    packaged = package_api(images, tmp_path_factory.mktemp("api-package"))
    stacks = Stacks(Store(images.db_path), Context(images, lambda _line: None))
    stack = unique("qa-api")
    outputs = stacks.deploy(stack, load(packaged), api_parameters(model_endpoint))
    yield outputs["EndpointURL"]
    stacks.delete(stack)


def smoke(settings: Settings, reports: Path, endpoint: str, *args: str):
    return run_qa(settings, reports, "--endpoint-name", endpoint, "--stage", "prod", "-m",
                  "smoke", *args)


def test_smoke_passes_when_prod_and_the_api_serve_this_release(images, training, model_endpoint,
                                                               api_in_front, tmp_path):
    done, summary, junit = smoke(images, tmp_path, model_endpoint,
                                 "--model-version", training["TrainingJobName"],
                                 "--api-url", api_in_front)
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["tests"] == {"passed": 6, "failed": 0, "skipped": 0}
    assert failed_tests(junit) == []


def test_smoke_fails_when_prod_still_serves_the_previous_model(images, training, model_endpoint,
                                                               api_in_front, tmp_path):
    """What a canary that SageMaker rolled back leaves: the endpoint InService on the model of
    the previous release, while the pipeline deployed this one."""
    release = "sagepipe-train-20260101-000000-000"  # this release's job; prod serves another
    done, summary, junit = smoke(images, tmp_path, model_endpoint, "--model-version", release,
                                 "--api-url", api_in_front)
    assert done.returncode == 1, done.stdout + done.stderr
    assert summary["passed"] is False
    assert failed_tests(junit) == ["test_the_endpoint_serves_this_release",
                                   "test_the_api_answers_signed_calls_with_this_release"]
    assert (f"serves model {training['TrainingJobName']}, not this release's {release}: the "
            "deployment was rolled back") in done.stdout


def test_smoke_fails_when_the_api_does_not_answer(images, training, model_endpoint, tmp_path):
    """An API URL that answers nothing (a stack whose API is gone) fails the smoke test."""
    gone = f"{images.endpoint_url}/restapis/no-such-api/api/"
    done, _, junit = smoke(images, tmp_path, model_endpoint,
                           "--model-version", training["TrainingJobName"], "--api-url", gone)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "test_the_api_answers_signed_calls_with_this_release" in failed_tests(junit)


@pytest.fixture(scope="module")
def slow_endpoint(images: Settings) -> str:
    """A real model server that answers correctly, each call after 0.3 s (the stub image's
    `slow` mode sleeps before it answers)."""
    return create_endpoint(client(images, "sagemaker"), STUB_IMAGE,
                           environment={"STUB_MODE": "slow", "STUB_SLEEP": "0.3"})


def test_a_slow_endpoint_fails_the_latency_gate(images, slow_endpoint, tmp_path):
    """Every call takes at least 300 ms (the server sleeps that long), so a p95 budget of
    100 ms cannot be met; the same endpoint passes under the shipped 600,000 ms test budget."""
    config = tmp_path / "tight.json"
    config.write_text(json.dumps({**SHIPPED, "latency_p95_ms": 100, "invocations": 20}))
    done, summary, junit = run_qa(images, tmp_path, "--endpoint-name", slow_endpoint,
                                  "--stage", "qa", "--config", str(config), "-k", "latency")
    assert done.returncode == 1, done.stdout + done.stderr
    assert failed_tests(junit) == ["test_p95_latency_within_budget_without_errors"]
    assert summary["passed"] is False and summary["errors"] == 0
    assert summary["latency_p95_ms"] >= 300 and summary["invocations"] == 20
    assert "over the qa budget of 100 ms" in done.stdout

    config.write_text(json.dumps({**SHIPPED, "latency_p95_ms": 600_000, "invocations": 20}))
    done, summary, _ = run_qa(images, tmp_path, "--endpoint-name", slow_endpoint,
                              "--stage", "qa", "--config", str(config), "-k", "latency")
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["passed"] is True
