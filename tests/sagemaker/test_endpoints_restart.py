"""Endpoints outlive the gateway: restored after a clean stop and after a crash mid-update
(stale servers killed, the update rolled back, new servers started on new ports)."""

from __future__ import annotations

import json
import os
import signal

import pytest
from endpoint_kit import Deployer, wait_for_pid, wait_until_gone
from jobs_kit import process_alive
from testkit import register_stub_image

from sagepipe.clients import client as client_for
from sagepipe.config import Settings
from sagepipe.processes import free_port
from sagepipe.server import running_pid, start_background, stop

pytestmark = pytest.mark.local_aws  # its tests start a local AWS of their own


def served_by(runtime, endpoint: str) -> dict:
    reply = runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1,male,40",
                                    ContentType="text/csv", Accept="application/json")
    return json.loads(reply["Body"].read())


def test_endpoint_is_restored_after_stop_and_after_a_crash(tmp_path):
    settings = Settings(home=tmp_path / "home", port=free_port())
    start_background(settings)
    try:
        register_stub_image(settings)
        deployer = Deployer(client_for(settings, "sagemaker"), client_for(settings, "s3"))
        config = deployer.config(("AllTraffic", deployer.model("v1"), 1.0))
        endpoint = deployer.endpoint(config)
        first = served_by(client_for(settings, "sagemaker-runtime"), endpoint)

        stop(settings)  # a clean stop takes the model servers down with the gateway
        assert not process_alive(first["pid"])
        start_background(settings)
        assert deployer.wait(endpoint)["EndpointStatus"] == "InService"
        second = served_by(client_for(settings, "sagemaker-runtime"), endpoint)
        assert second["version"] == "v1" and second["pid"] != first["pid"]

        # A crash in the middle of an update whose new server never gets healthy.
        reports = tmp_path / "pending"
        gated = deployer.config(("AllTraffic", deployer.model(
            "v2", env={"STUB_GATE": str(tmp_path / "never"), "STUB_REPORT_DIR": str(reports)}),
            1.0))
        deployer.sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=gated)
        pending = wait_for_pid(reports / "pid")
        gateway = running_pid(settings)
        assert gateway is not None
        os.kill(gateway, signal.SIGKILL)  # the model servers are left running
        assert wait_until_gone(gateway)
        assert process_alive(second["pid"]) and process_alive(pending)
        start_background(settings)
        assert wait_until_gone(second["pid"])  # the new gateway killed the stale servers
        assert wait_until_gone(pending)
        restored = deployer.wait(endpoint)
        assert restored["EndpointConfigName"] == config
        assert f"stopped while updating to endpoint configuration {gated}" in (
            restored["FailureReason"])
        third = served_by(client_for(settings, "sagemaker-runtime"), endpoint)
        assert third["version"] == "v1" and third["pid"] not in (first["pid"], second["pid"])
    finally:
        stop(settings)
