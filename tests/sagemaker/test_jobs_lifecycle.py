"""Jobs across gateway restarts: a clean shutdown stops them, a killed gateway fails them
(training and batch transform alike)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from jobs_kit import (
    log_text,
    new_bucket,
    process_alive,
    register_toy_image,
    training_request,
)
from testkit import register_stub_image, unique, wait_until
from transform_kit import new_probe_dir, probe_model, requests_seen, transform_request

from sagepipe.clients import client as client_for
from sagepipe.config import Settings
from sagepipe.processes import free_port
from sagepipe.server import running_pid, start_background, stop

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own


@pytest.fixture
def gateway(tmp_path) -> Iterator[Settings]:
    """A gateway of this test's own (the session's one must survive)."""
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    register_toy_image(settings)
    yield settings
    stop(settings)


def start_sleeping_job(settings: Settings) -> tuple[str, int]:
    """A training job whose process is running; returns its name and pid."""
    sm = client_for(settings, "sagemaker")
    name = unique("sleeper")
    bucket = new_bucket(client_for(settings, "s3"))
    sm.create_training_job(**training_request(name, bucket, HyperParameters={"mode": "sleep"}))
    wait_until(lambda: log_text(settings, "TrainingJobs", name), lambda t: "sleeping" in t,
               "the job to start sleeping")
    pid_file = settings.home / "jobs" / "TrainingJob" / name / "output" / "data" / "pid"
    return name, int(pid_file.read_text())


def describe(settings: Settings, name: str) -> dict:
    return client_for(settings, "sagemaker").describe_training_job(TrainingJobName=name)


def test_gateway_shutdown_stops_running_jobs(gateway):
    name, pid = start_sleeping_job(gateway)
    assert stop(gateway)
    assert not process_alive(pid)
    start_background(gateway)
    job = describe(gateway, name)
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatusTransitions"][-2]["StatusMessage"] == (
        "Stopping the job: the local AWS is shutting down")


def test_killed_gateway_leaves_no_job_in_progress_nor_its_process(gateway):
    name, pid = start_sleeping_job(gateway)
    gateway_pid = running_pid(gateway)
    os.kill(gateway_pid, signal.SIGKILL)
    wait_until(lambda: process_alive(gateway_pid), lambda alive: not alive, "the gateway to die")
    assert process_alive(pid)  # the job's process group outlived its gateway...
    start_background(gateway)
    job = describe(gateway, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert "The local AWS stopped while this job ran" in job["FailureReason"]
    # ...and the new gateway ended it
    wait_until(lambda: process_alive(pid), lambda alive: not alive, "the orphan to end")


def start_held_transform(settings: Settings, tmp_path) -> tuple[str, int]:
    """A transform job whose model server holds its one record; returns its name and the
    server's pid."""
    register_stub_image(settings)
    sm, s3 = client_for(settings, "sagemaker"), client_for(settings, "s3")
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="in/rows.csv", Body=b"hold\n")
    probe_dir = new_probe_dir(tmp_path)
    name = unique("held")
    sm.create_transform_job(**transform_request(name, probe_model(sm, probe_dir),
                                                f"s3://{bucket}/in/", f"s3://{bucket}/out"))
    wait_until(lambda: requests_seen(probe_dir), bool, "the record to reach the model")
    return name, int((probe_dir / "pid").read_text())


def test_gateway_shutdown_stops_a_running_transform_job(gateway, tmp_path):
    name, pid = start_held_transform(gateway, tmp_path)
    assert stop(gateway)
    assert not process_alive(pid)
    start_background(gateway)
    job = client_for(gateway, "sagemaker").describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Stopped"


def test_killed_gateway_fails_a_running_transform_job_and_ends_its_server(gateway, tmp_path):
    name, pid = start_held_transform(gateway, tmp_path)
    gateway_pid = running_pid(gateway)
    os.kill(gateway_pid, signal.SIGKILL)
    wait_until(lambda: process_alive(gateway_pid), lambda alive: not alive, "the gateway to die")
    assert process_alive(pid)
    start_background(gateway)
    job = client_for(gateway, "sagemaker").describe_transform_job(TransformJobName=name)
    assert job["TransformJobStatus"] == "Failed"
    assert "The local AWS stopped while this job ran" in job["FailureReason"]
    wait_until(lambda: process_alive(pid), lambda alive: not alive, "the orphan to end")
