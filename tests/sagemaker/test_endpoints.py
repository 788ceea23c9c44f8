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
from endpoint_kit import BUCKET, Deployer, wait_for_pid, wait_until_gone
from jobs_kit import process_alive
from testkit import STUB_IMAGE, register_stub_image, wait_until

from sagepipe.logs.streams import streams_of


@pytest.fixture(scope="module")
def stub_image(local_aws) -> None:
    register_stub_image(local_aws)


@pytest.fixture
def deployer(aws, stub_image) -> Deployer:
    return Deployer(aws("sagemaker"), aws("s3"))


@pytest.fixture
def runtime(aws):
    return aws("sagemaker-runtime")


def ask(runtime, endpoint: str, body: bytes = b"1,female,29", content_type: str = "text/csv",
        **extra) -> tuple[dict, dict]:
    """Invoke with a JSON answer: (the boto3 reply, what the stub server saw)."""
    reply = runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type,
                                    Accept="application/json", **extra)
    return reply, json.loads(reply["Body"].read())


def no_retry_client(settings):
    """A runtime client that does not retry: a failed invocation shows as one."""
    credentials = settings.credentials
    return boto3.client(
        "sagemaker-runtime", endpoint_url=settings.endpoint_url, region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=180))


def wait_for_file(path, bound: float = 60) -> None:
    deadline = time.monotonic() + bound
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def test_serves_then_updates_blue_green_under_load_then_deletes(deployer, runtime, local_aws,
                                                                 tmp_path):
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
    assert variant["DeployedImages"][0]["SpecifiedImage"] == STUB_IMAGE

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

    # Blue/green: calls in flight on v1 when traffic moves are answered by v1 (the old fleet
    # drains before it stops); under load no call fails, and once v2 answers v1 never does.
    gate = tmp_path / "v2-ready"  # v2's /ping answers 200 only once this file exists
    config2 = deployer.config(("AllTraffic", deployer.model("v2", env={"STUB_GATE": str(gate)}),
                               1.0))
    client = no_retry_client(local_aws)
    held = [tmp_path / f"held-{i}" for i in range(3)]
    held_answers: dict[str, str] = {}

    def hold(path) -> None:
        try:
            body = client.invoke_endpoint(EndpointName=endpoint, Body=f"hold={path}".encode(),
                                          ContentType="text/csv", Accept="text/csv")["Body"]
            held_answers[path.name] = body.read().decode().split(",")[0]
        except Exception as exc:
            held_answers[path.name] = repr(exc)

    stop = threading.Event()
    failures: list[str] = []
    answers: list[list[str]] = [[] for _ in range(4)]

    def hammer(versions: list[str]) -> None:
        while not stop.is_set():
            try:
                body = client.invoke_endpoint(EndpointName=endpoint, Body=b"sleep=0.2",
                                              ContentType="text/csv", Accept="text/csv")["Body"]
                versions.append(body.read().decode().split(",")[0])
            except Exception as exc:
                failures.append(repr(exc))

    holders = [threading.Thread(target=hold, args=(path,)) for path in held]
    threads = [threading.Thread(target=hammer, args=(a,)) for a in answers]
    for thread in holders + threads:
        thread.start()
    try:
        for path in held:  # the held calls have reached v1's server
            wait_for_file(path.with_name(f"{path.name}.started"))
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config2)
        updating = deployer.sm.describe_endpoint(EndpointName=endpoint)
        assert updating["EndpointStatus"] == "Updating", updating.get("FailureReason")
        gate.touch()
        updated = deployer.wait(endpoint)  # InService on v2: traffic has moved
        deadline = time.monotonic() + 60
        while not all(a and a[-1] == "v2" for a in answers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ask(runtime, endpoint)[1]["version"] == "v2"
        assert process_alive(v1_pid)  # still draining: v1's calls are in flight
        assert held_answers == {}
    finally:
        for path in held:
            path.touch()
        stop.set()
        for thread in holders + threads:
            thread.join()
    assert held_answers == {path.name: "v1" for path in held}  # answered by v1, not cut off
    assert failures == []
    for versions in answers:
        assert versions[-1] == "v2"
        assert "v1" not in versions[versions.index("v2"):]
        assert set(versions) <= {"v1", "v2"}
    assert updated["EndpointConfigName"] == config2
    assert "PendingDeploymentSummary" not in updated and "FailureReason" not in updated
    assert wait_until_gone(v1_pid)  # drained, then stopped
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
    broken = deployer.config(("AllTraffic", deployer.model("crash"), 1.0))

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
    config2 = deployer.config(("AllTraffic", deployer.model("v2", env={"STUB_GATE": str(gate)}),
                               1.0))

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
    pidfile = tmp_path / "pid"  # the server reports into tmp_path
    config = deployer.config(("AllTraffic", deployer.model(
        "v1", env={"STUB_GATE": str(tmp_path / "never"), "STUB_REPORT_DIR": str(tmp_path)}),
        1.0))
    endpoint = deployer.endpoint(config, wait=False)
    pid = wait_for_pid(pidfile)
    assert deployer.sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating"
    refused = error_of(runtime.invoke_endpoint, EndpointName=endpoint, Body=b"x")
    assert "not InService (status Creating)" in refused["Error"]["Message"]

    deployer.delete(endpoint)
    assert wait_until_gone(pid)
    listed = deployer.sm.list_endpoints(NameContains=endpoint)["Endpoints"]
    assert listed == []


def test_a_killed_model_server_is_restarted_and_serves_again(deployer, runtime, tmp_path,
                                                             local_aws):
    gate = tmp_path / "ready"  # the server's /ping answers 200 only while this file exists
    gate.touch()
    endpoint = deployer.endpoint(deployer.config(
        ("AllTraffic", deployer.model("v1", env={"STUB_GATE": str(gate)}), 1.0)))
    pid = ask(runtime, endpoint)[1]["pid"]
    gate.unlink()  # the restarted server will wait for it: the outage lasts until the test says
    os.kill(pid, signal.SIGKILL)
    assert wait_until_gone(pid)

    def variant() -> dict:
        return deployer.sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]

    down = wait_until(variant, lambda v: "VariantStatus" in v, "the variant to show its outage")
    assert down["CurrentInstanceCount"] == 0
    [status] = down["VariantStatus"]
    assert status["Status"] == "Creating"
    assert status["StatusMessage"].startswith(
        "Replacing the instance: its model server was killed by SIGKILL; restart 1")
    described = deployer.sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    refused = error_of(no_retry_client(local_aws).invoke_endpoint, EndpointName=endpoint,
                       Body=b"x", ContentType="text/csv")
    assert refused["Error"]["Code"] == "ServiceUnavailable"
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert f"No model server of endpoint {endpoint} is healthy (production variant " \
        "AllTraffic: its model server was killed by SIGKILL" in refused["Error"]["Message"]

    gate.touch()
    up = wait_until(variant, lambda v: "VariantStatus" not in v, "the variant to serve again")
    assert up["CurrentInstanceCount"] == 1
    client = no_retry_client(local_aws)
    pids = {ask(client, endpoint)[1]["pid"] for _ in range(50)}  # no call lost after recovery
    assert len(pids) == 1 and pid not in pids
    logged = [e.message for stream in streams_of(local_aws.home, endpoint)
              for e in stream.events()]
    assert "[sagepipe] its model server was killed by SIGKILL; restart 1 in 0s" in logged
    deployer.delete(endpoint)
    assert wait_until_gone(pids.pop())


def test_traffic_routes_around_a_variant_being_restarted(deployer, runtime, tmp_path,
                                                         local_aws):
    gate = tmp_path / "a-ready"
    gate.touch()
    config = deployer.config(("A", deployer.model("va", env={"STUB_GATE": str(gate)}), 1.0),
                             ("B", deployer.model("vb"), 1.0))
    endpoint = deployer.endpoint(config)
    a_pid = ask(runtime, endpoint, TargetVariant="A")[1]["pid"]
    gate.unlink()
    os.kill(a_pid, signal.SIGKILL)
    assert wait_until_gone(a_pid)
    wait_until(lambda: deployer.sm.describe_endpoint(EndpointName=endpoint),
               lambda d: "VariantStatus" in d["ProductionVariants"][0], "A to be marked down")
    client = no_retry_client(local_aws)
    for _ in range(20):  # every call is answered, by B
        reply, seen = ask(client, endpoint)
        assert (reply["InvokedProductionVariant"], seen["version"]) == ("B", "vb")
    refused = error_of(client.invoke_endpoint, EndpointName=endpoint, Body=b"x",
                       TargetVariant="A")
    assert refused["Error"]["Code"] == "ServiceUnavailable"
    gate.touch()
    wait_until(lambda: deployer.sm.describe_endpoint(EndpointName=endpoint),
               lambda d: "VariantStatus" not in d["ProductionVariants"][0], "A to serve again")
    assert ask(client, endpoint, TargetVariant="A")[1]["version"] == "va"
    deployer.delete(endpoint)


def test_retain_all_variant_properties_keeps_weights_unless_excluded(deployer, runtime):
    sm = deployer.sm
    first = deployer.config(("A", deployer.model("v1"), 1.0), ("B", deployer.model("v1"), 0.0))
    endpoint = deployer.endpoint(first)
    flipped = deployer.config(("A", deployer.model("v2"), 0.0), ("B", deployer.model("v2"), 1.0))

    def weights() -> list[tuple[str, float, float]]:
        return [(v["VariantName"], v["CurrentWeight"], v["DesiredWeight"])
                for v in sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"]]

    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=flipped,
                       RetainAllVariantProperties=True)
    deployer.wait(endpoint)
    assert weights() == [("A", 1.0, 1.0), ("B", 0.0, 0.0)]  # the weights it had
    for _ in range(5):  # the new models, with the old traffic split
        reply, seen = ask(runtime, endpoint)
        assert (reply["InvokedProductionVariant"], seen["version"]) == ("A", "v2")

    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=flipped,
                       RetainAllVariantProperties=True,
                       ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}])
    deployer.wait(endpoint)
    assert weights() == [("A", 0.0, 0.0), ("B", 1.0, 1.0)]  # the configuration's weights
    assert ask(runtime, endpoint)[0]["InvokedProductionVariant"] == "B"
    deployer.delete(endpoint)


def test_endpoint_whose_server_exits_fails_with_its_log(deployer, runtime):
    config = deployer.config(("AllTraffic", deployer.model("crash"), 1.0))
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
                       PrimaryContainer={"Image": STUB_IMAGE, "ModelDataUrl": missing})
    assert refused["Error"]["Message"].startswith(f"Could not access model data at {missing}.")

    model = deployer.model("v1")
    again = error_of(sm.create_model, ModelName=model, ExecutionRoleArn=role,
                     PrimaryContainer={"Image": STUB_IMAGE})
    assert "Cannot create already existing model" in again["Error"]["Message"]
    described = sm.describe_model(ModelName=model)
    assert described["PrimaryContainer"]["Image"] == STUB_IMAGE
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
