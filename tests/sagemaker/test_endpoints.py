"""Endpoints that really serve: create -> InService -> invoke -> blue/green update -> delete."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError
from endpoint_kit import (
    BUCKET,
    CRASH_IMAGE,
    ECHO_IMAGE,
    Deployer,
    register_test_images,
    wait_for_pid,
    wait_until_gone,
)


@pytest.fixture(scope="module")
def test_images(local_aws, tmp_path_factory) -> None:
    register_test_images(local_aws, tmp_path_factory.mktemp("images"))


@pytest.fixture
def deployer(aws, test_images) -> Deployer:
    return Deployer(aws("sagemaker"), aws("s3"))


@pytest.fixture
def runtime(aws):
    return aws("sagemaker-runtime")


def ask(runtime, endpoint: str, body: bytes = b"1,female,29", content_type: str = "text/csv",
        **extra) -> tuple[dict, dict]:
    """Invoke with a JSON answer: (the boto3 reply, what the echo server saw)."""
    reply = runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type,
                                    Accept="application/json", **extra)
    return reply, json.loads(reply["Body"].read())


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def test_serves_then_updates_blue_green_under_load_then_deletes(deployer, runtime, local_aws):
    sm = deployer.sm
    v1 = deployer.model("v1", env={"GREETING": "hello"})
    config1 = deployer.config(("AllTraffic", v1, 1.0))
    endpoint = deployer.endpoint(config1)

    described = sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == config1
    [variant] = described["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert (variant["CurrentWeight"], variant["CurrentInstanceCount"]) == (1.0, 1)
    assert variant["DeployedImages"][0]["SpecifiedImage"] == ECHO_IMAGE

    csv = runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1,female,29",
                                  ContentType="text/csv", Accept="text/csv")
    assert csv["ContentType"] == "text/csv"
    assert csv["InvokedProductionVariant"] == "AllTraffic"
    assert csv["Body"].read() == b"v1,1,female,29"

    reply, seen = ask(runtime, endpoint, b'{"instances": [[1, "female", 29]]}',
                      "application/json", CustomAttributes="trace=abc")
    assert reply["ContentType"] == "application/json"
    assert reply["CustomAttributes"] == "seen=trace=abc"
    assert seen["body"] == '{"instances": [[1, "female", 29]]}'
    assert (seen["content_type"], seen["accept"]) == ("application/json", "application/json")
    assert seen["greeting"] == "hello"  # the model's Environment reaches the server
    assert seen["workers"].isdigit()  # SAGEMAKER_MODEL_SERVER_WORKERS set by default
    v1_pid = seen["pid"]

    # Blue/green under load: no failed invocation, and once v2 answers v1 never does again.
    config2 = deployer.config(("AllTraffic", deployer.model("v2"), 1.0))
    stop = threading.Event()
    failures: list[str] = []
    answers: list[list[str]] = [[] for _ in range(4)]

    def hammer(versions: list[str]) -> None:
        credentials = local_aws.credentials
        client = boto3.client(  # no retries: a failed invocation must show as one
            "sagemaker-runtime", endpoint_url=local_aws.endpoint_url, region_name="us-east-1",
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            config=Config(retries={"total_max_attempts": 1}))
        while not stop.is_set():
            try:
                body = client.invoke_endpoint(EndpointName=endpoint, Body=b"sleep=0.2",
                                              ContentType="text/csv", Accept="text/csv")["Body"]
                versions.append(body.read().decode().split(",")[0])
            except Exception as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=hammer, args=(a,)) for a in answers]
    for thread in threads:
        thread.start()
    try:
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config2)
        updated = deployer.wait(endpoint)
        deadline = time.monotonic() + 60
        while not all(a and a[-1] == "v2" for a in answers) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    for versions in answers:
        assert versions[-1] == "v2"
        assert "v1" not in versions[versions.index("v2"):]
        assert set(versions) <= {"v1", "v2"}
    assert updated["EndpointConfigName"] == config2
    assert "PendingDeploymentSummary" not in updated and "FailureReason" not in updated
    assert wait_until_gone(v1_pid)  # the old fleet was drained and stopped
    _, seen = ask(runtime, endpoint)
    assert seen["version"] == "v2"

    deployer.delete(endpoint)
    assert error_of(sm.describe_endpoint, EndpointName=endpoint)["Error"]["Code"] == (
        "ValidationException")
    gone = error_of(runtime.invoke_endpoint, EndpointName=endpoint, Body=b"x")
    assert gone["Error"] == {"Code": "ValidationError", "Message":
                             f"Endpoint {endpoint} of account 000000000000 not found."}
    assert wait_until_gone(seen["pid"])


def test_failed_update_rolls_back_and_keeps_serving(deployer, runtime):
    config1 = deployer.config(("AllTraffic", deployer.model("v1"), 1.0))
    endpoint = deployer.endpoint(config1)
    broken = deployer.config(("AllTraffic", deployer.model("v9", image=CRASH_IMAGE), 1.0))

    deployer.sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=broken)
    described = deployer.wait(endpoint)

    assert described["EndpointConfigName"] == config1
    reason = described["FailureReason"]
    assert f"Update to endpoint configuration {broken} failed" in reason
    assert "exited with code 3" in reason
    assert "cannot unpickle /opt/ml/model/model.pkl" in reason  # the server's own last words
    assert ask(runtime, endpoint)[1]["version"] == "v1"
    deployer.delete(endpoint)


def test_update_is_refused_while_updating_and_old_fleet_serves_meanwhile(
        deployer, runtime, tmp_path):
    config1 = deployer.config(("AllTraffic", deployer.model("v1"), 1.0))
    endpoint = deployer.endpoint(config1)
    gate = tmp_path / "gate"  # v2's /ping answers 200 only once this file exists
    config2 = deployer.config(("AllTraffic", deployer.model("v2", env={"GATE": str(gate)}), 1.0))

    deployer.sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config2)
    described = deployer.sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "Updating"
    assert described["EndpointConfigName"] == config1
    assert described["PendingDeploymentSummary"]["EndpointConfigName"] == config2
    assert ask(runtime, endpoint)[1]["version"] == "v1"
    again = error_of(deployer.sm.update_endpoint, EndpointName=endpoint,
                     EndpointConfigName=config1)
    assert again["Error"]["Code"] == "ValidationException"
    assert "Cannot update in-progress endpoint" in again["Error"]["Message"]

    gate.touch()
    assert deployer.wait(endpoint)["EndpointConfigName"] == config2
    assert ask(runtime, endpoint)[1]["version"] == "v2"
    deployer.delete(endpoint)


def test_delete_while_creating_stops_the_server_being_brought_up(deployer, runtime, tmp_path):
    pidfile = tmp_path / "pid"
    config = deployer.config(("AllTraffic", deployer.model(
        "v1", env={"GATE": str(tmp_path / "never"), "PIDFILE": str(pidfile)}), 1.0))
    endpoint = deployer.endpoint(config, wait=False)
    pid = wait_for_pid(pidfile)
    assert deployer.sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating"
    refused = error_of(runtime.invoke_endpoint, EndpointName=endpoint, Body=b"x")
    assert "not InService (status Creating)" in refused["Error"]["Message"]

    deployer.delete(endpoint)
    assert wait_until_gone(pid)
    listed = deployer.sm.list_endpoints(NameContains=endpoint)["Endpoints"]
    assert listed == []


def test_a_model_server_that_died_is_reported_unavailable(deployer, runtime):
    endpoint = deployer.endpoint(deployer.config(("AllTraffic", deployer.model("v1"), 1.0)))
    listed = deployer.sm.list_endpoints(NameContains=endpoint, StatusEquals="InService")
    assert [e["EndpointName"] for e in listed["Endpoints"]] == [endpoint]
    pid = ask(runtime, endpoint)[1]["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_until_gone(pid)
    failed = error_of(runtime.invoke_endpoint, EndpointName=endpoint, Body=b"x")
    assert failed["Error"]["Code"] == "ServiceUnavailable"
    assert "its process was killed by SIGKILL" in failed["Error"]["Message"]
    deployer.delete(endpoint)


def test_endpoint_whose_server_exits_fails_with_its_log(deployer, runtime):
    config = deployer.config(("AllTraffic", deployer.model("v1", image=CRASH_IMAGE), 1.0))
    endpoint = deployer.endpoint(config, wait=False)
    with pytest.raises(WaiterError):
        deployer.wait(endpoint)
    described = deployer.sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check" in described["FailureReason"]
    assert "cannot unpickle" in described["FailureReason"]
    refused = error_of(runtime.invoke_endpoint, EndpointName=endpoint, Body=b"x")
    assert refused["Error"]["Code"] == "ValidationError"
    assert "not InService (status Failed)" in refused["Error"]["Message"]
    deployer.delete(endpoint)


def test_model_error_carries_the_servers_answer(deployer, runtime):
    endpoint = deployer.endpoint(deployer.config(("AllTraffic", deployer.model("v1"), 1.0)))
    failed = error_of(runtime.invoke_endpoint, EndpointName=endpoint, Body=b"fail: x",
                      ContentType="text/csv")
    assert failed["Error"]["Code"] == "ModelError"
    assert failed["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert failed["OriginalStatusCode"] == 400
    assert failed["OriginalMessage"] == "row 1, column Sex: 'x' is not male or female"
    assert "Received client error (400)" in failed["Error"]["Message"]
    assert failed["LogStreamArn"].endswith(f"log-group:/aws/sagemaker/Endpoints/{endpoint}")
    deployer.delete(endpoint)


def test_weights_target_variant_and_deleted_definitions(deployer, runtime):
    model_a, model_b = deployer.model("v1"), deployer.model("v2")
    config = deployer.config(("A", model_a, 1.0), ("B", model_b, 0.0))
    endpoint = deployer.endpoint(config)
    # An endpoint keeps what it deployed: its config and models may go (as in AWS).
    deployer.sm.delete_endpoint_config(EndpointConfigName=config)
    deployer.sm.delete_model(ModelName=model_a)

    described = deployer.sm.describe_endpoint(EndpointName=endpoint)
    assert [(v["VariantName"], v["CurrentWeight"]) for v in described["ProductionVariants"]] == [
        ("A", 1.0), ("B", 0.0)]
    for _ in range(5):
        reply, seen = ask(runtime, endpoint)
        assert (reply["InvokedProductionVariant"], seen["version"]) == ("A", "v1")
    reply, seen = ask(runtime, endpoint, TargetVariant="B")
    assert (reply["InvokedProductionVariant"], seen["version"]) == ("B", "v2")
    wrong = error_of(runtime.invoke_endpoint, EndpointName=endpoint, Body=b"x",
                     TargetVariant="C")
    assert wrong["Error"]["Code"] == "ValidationError"
    assert "C is not a production variant" in wrong["Error"]["Message"]
    deployer.delete(endpoint)


def test_data_capture_writes_sagemaker_json_lines_to_s3(deployer, runtime):
    prefix = f"capture-{time.time_ns()}"
    config = deployer.config(("AllTraffic", deployer.model("v1"), 1.0), DataCaptureConfig={
        "EnableCapture": True, "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/{prefix}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]})
    endpoint = deployer.endpoint(config)
    assert deployer.sm.describe_endpoint(EndpointName=endpoint)["DataCaptureConfig"][
        "CaptureStatus"] == "Started"
    runtime.invoke_endpoint(EndpointName=endpoint, Body=b"3,male,22", ContentType="text/csv",
                            Accept="text/csv", InferenceId="req-1")

    listing: dict = {}
    deadline = time.monotonic() + 60
    while not listing.get("Contents") and time.monotonic() < deadline:
        time.sleep(0.5)
        listing = deployer.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/{endpoint}/")
    [obj] = listing["Contents"]
    assert obj["Key"].startswith(f"{prefix}/{endpoint}/AllTraffic/")
    assert obj["Key"].endswith(".jsonl")
    [line] = deployer.s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read().splitlines()
    event = json.loads(line)
    assert event["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv", "mode": "INPUT", "data": "3,male,22",
        "encoding": "CSV"}
    assert event["captureData"]["endpointOutput"]["data"] == "v1,3,male,22"
    assert event["eventMetadata"]["inferenceId"] == "req-1"
    deployer.delete(endpoint)


def test_models_and_configs_are_validated(deployer, aws):
    sm = deployer.sm
    role = "arn:aws:iam::000000000000:role/x"
    unknown_image = "000000000000.dkr.ecr.us-east-1.amazonaws.com/nowhere:1"
    refused = error_of(sm.create_model, ModelName="m-unknown-image", ExecutionRoleArn=role,
                       PrimaryContainer={"Image": unknown_image})
    assert refused["Error"]["Code"] == "ValidationException"
    assert f"Could not find image {unknown_image}" in refused["Error"]["Message"]
    assert "sagepipe image register" in refused["Error"]["Message"]

    missing = f"s3://{BUCKET}/nothing/here/model.tar.gz"
    refused = error_of(sm.create_model, ModelName="m-no-data", ExecutionRoleArn=role,
                       PrimaryContainer={"Image": ECHO_IMAGE, "ModelDataUrl": missing})
    assert refused["Error"]["Message"].startswith(f"Could not access model data at {missing}.")

    model = deployer.model("v1")
    again = error_of(sm.create_model, ModelName=model, ExecutionRoleArn=role,
                     PrimaryContainer={"Image": ECHO_IMAGE})
    assert "Cannot create already existing model" in again["Error"]["Message"]
    described = sm.describe_model(ModelName=model)
    assert described["PrimaryContainer"]["Image"] == ECHO_IMAGE
    assert described["ModelArn"].endswith(f":model/{model}")
    assert error_of(sm.describe_model, ModelName="no-such-model")["Error"]["Code"] == (
        "ValidationException")

    def variant(name: str, model_name: str) -> dict:
        return {"VariantName": name, "ModelName": model_name, "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large"}

    refused = error_of(sm.create_endpoint_config, EndpointConfigName="c-unknown-model",
                       ProductionVariants=[variant("A", "no-such-model")])
    assert 'Could not find model "arn:aws:sagemaker:' in refused["Error"]["Message"]
    refused = error_of(sm.create_endpoint_config, EndpointConfigName="c-twice",
                       ProductionVariants=[variant("A", model), variant("A", model)])
    assert "VariantName must be unique" in refused["Error"]["Message"]
    refused = error_of(sm.create_endpoint, EndpointName="e-unknown-config",
                       EndpointConfigName="no-such-config")
    assert "Could not find endpoint configuration" in refused["Error"]["Message"]
    assert error_of(sm.update_endpoint, EndpointName="no-such-endpoint",
                    EndpointConfigName="x")["Error"]["Code"] == "ValidationException"

    config = deployer.config(("A", model, 1.0))
    assert sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0][
        "ModelName"] == model
    listed = sm.list_endpoint_configs(NameContains=config)["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in listed] == [config]
    first = sm.list_models(MaxResults=1, SortBy="Name", SortOrder="Ascending")
    second = sm.list_models(MaxResults=1, SortBy="Name", SortOrder="Ascending",
                            NextToken=first["NextToken"])
    assert first["Models"][0]["ModelName"] < second["Models"][0]["ModelName"]
    sm.delete_model(ModelName=model)
    assert error_of(sm.delete_model, ModelName=model)["Error"]["Code"] == "ValidationException"
