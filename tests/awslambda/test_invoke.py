"""Invocations through real boto3 clients and the AWS CLI: functions run in sandboxes of their own,
kept warm between invocations, with Lambda's environment and context; errors, timeouts, exits
and oversized payloads answered as AWS answers them; asynchronous invocations run in the
background; every invocation logged with its START, END and REPORT lines."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from awslambda.lambda_kit import create, invoke
from botocore.exceptions import ClientError
from testkit import client_for, tail_command, unique

from sagepipe.clients import local_env

BIN = Path(sys.executable).parent


@pytest.fixture
def lam(aws):
    return aws("lambda")


@pytest.fixture(scope="module")
def function(local_aws) -> str:
    """The test handler, shared by the tests that do not care about its sandbox."""
    return create(client_for(local_aws, "lambda"))


def test_a_warm_sandbox_answers_the_second_invocation(lam):
    name = create(lam)
    first, second = invoke(lam, name)[1], invoke(lam, name)[1]
    assert first["invocations"] == 1 and second["invocations"] == 2  # the module's own state
    assert first["pid"] == second["pid"] != os.getpid()


def test_the_handler_sees_lambdas_environment_and_context(lam, local_aws):
    name = create(lam, MemorySize=512, Environment={"Variables": {"GREETING": "hi"}})
    response, answer = invoke(lam, name, {"action": "echo", "n": 1})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    context, env = answer["context"], answer["env"]
    assert answer["event"] == {"action": "echo", "n": 1}
    assert context["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert (context["function_name"], context["function_version"]) == (name, "$LATEST")
    assert context["memory_limit_in_mb"] == "512"
    assert context["invoked_function_arn"] == \
        f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert context["log_group_name"] == f"/aws/lambda/{name}"
    assert context["log_stream_name"].endswith(f"/[$LATEST]{context['log_stream_name'][-32:]}")
    assert 0 < context["remaining"] <= 10_000
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == context["log_stream_name"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_HANDLER"] == "app.handler" and env["TZ"] == ":UTC"
    assert env["GREETING"] == "hi"
    assert env["AWS_ENDPOINT_URL"] == local_env(local_aws)["AWS_ENDPOINT_URL"]
    assert env["LAMBDA_TASK_ROOT"] == answer["cwd"] == answer["path0"]


def test_boto3_inside_the_handler_reaches_the_local_s3(lam, s3, function):
    bucket = unique("from-lambda")
    s3.create_bucket(Bucket=bucket)
    invoke(lam, function, {"action": "put", "bucket": bucket, "key": "written"})
    written = json.loads(s3.get_object(Bucket=bucket, Key="written")["Body"].read())
    assert written["action"] == "put"


def test_an_error_is_answered_as_aws_shapes_it(lam, function):
    response, answer = invoke(lam, function, {"action": "raise", "why": "bad input"},
                              LogType="Tail")
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert list(answer) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert answer["errorMessage"] == "the handler refused: bad input"
    assert answer["errorType"] == "ValueError"
    assert answer["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert len(answer["stackTrace"]) == 1 and answer["stackTrace"][0].startswith('  File "')
    assert 'raise ValueError("the handler refused: "' in answer["stackTrace"][0]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {answer['requestId']} Version: $LATEST" in tail
    assert "[ERROR] ValueError: the handler refused: bad input" in tail
    assert f"END RequestId: {answer['requestId']}" in tail
    assert f"REPORT RequestId: {answer['requestId']}\tDuration: " in tail


def test_a_handler_past_its_timeout_is_killed_and_replaced(lam):
    name = create(lam, Timeout=1)
    pid = invoke(lam, name)[1]["pid"]
    response, answer = invoke(lam, name, {"action": "sleep", "seconds": 30}, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert answer == {"errorType": "Sandbox.Timedout", "errorMessage":
                      f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}
    assert f"{request_id} Task timed out after 1.00 seconds" in \
        base64.b64decode(response["LogResult"]).decode()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the sandbox was killed...
    after = invoke(lam, name)[1]
    assert after["invocations"] == 1 and after["pid"] != pid  # ...and a fresh one answers


def test_a_handler_that_exits_ends_only_its_invocation(lam):
    name = create(lam)
    response, answer = invoke(lam, name, {"action": "exit", "code": 3})
    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "Runtime.ExitError"
    assert answer["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert invoke(lam, name)[1]["invocations"] == 1


def test_an_import_error_is_the_runtimes(lam):
    name = create(lam, {"app.py": "import no_such_module\n"})
    response, answer = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "Runtime.ImportModuleError"
    assert answer["errorMessage"] == \
        "Unable to import module 'app': No module named 'no_such_module'"


def test_an_answer_that_is_not_json_is_a_marshal_error(lam, function):
    response, answer = invoke(lam, function, {"action": "unserializable"})
    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "Runtime.MarshalError"
    assert "Object of type set is not JSON serializable" in answer["errorMessage"]


def test_payload_limits(lam, function):
    too_big = json.dumps({"pad": "x" * (6 * 1024 * 1024)}).encode()
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=function, Payload=too_big)
    error = caught.value.response
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Message"] == \
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=function, InvocationType="Event",
                   Payload=json.dumps({"pad": "x" * (1024 * 1024)}).encode())
    assert "byte payload is too large for the Event invocation type (limit 1048576 bytes)" in \
        caught.value.response["Error"]["Message"]
    response, answer = invoke(lam, function, {"action": "big", "size": 7 * 1024 * 1024})
    assert response["FunctionError"] == "Unhandled"
    assert answer["errorType"] == "Function.ResponseSizeTooLarge"
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=function, Payload=b"{not json")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_dry_run_and_event_invocations(lam, s3, function):
    assert lam.invoke(FunctionName=function, InvocationType="DryRun")["StatusCode"] == 204
    bucket = unique("async")
    s3.create_bucket(Bucket=bucket)
    response = lam.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(
        {"action": "put", "bucket": bucket, "key": "done"}).encode())
    assert response["StatusCode"] == 202 and response["Payload"].read() == b""
    deadline = time.monotonic() + 30
    while not s3.list_objects_v2(Bucket=bucket).get("KeyCount"):
        assert time.monotonic() < deadline, "the event never ran"
        time.sleep(0.2)


def test_overlapping_invocations_run_in_separate_sandboxes(local_aws, tmp_path):
    """Each invocation waits until the other has arrived: with one sandbox they could not
    both finish; a pid per invocation shows two sandboxes."""
    lam = client_for(local_aws, "lambda")
    name = create(lam)
    answers: dict[str, dict] = {}

    def meet(me: str, other: str) -> None:
        client = client_for(local_aws, "lambda")
        answers[me] = invoke(client, name, {"action": "meet", "dir": str(tmp_path), "me": me,
                                            "other": other})[1]

    threads = [threading.Thread(target=meet, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers["a"]["pid"] != answers["b"]["pid"]
    assert {(tmp_path / "a").read_text(), (tmp_path / "b").read_text()} == \
        {str(answers["a"]["pid"]), str(answers["b"]["pid"])}


def aws_cli(settings, *args: str) -> dict:
    """`aws ARGS` (the venv's CLI) against the local AWS, its JSON answer."""
    done = subprocess.run([str(BIN / "aws"), *args, "--output", "json"],
                          env={**os.environ, **local_env(settings)}, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def sagepipe_logs(settings, name: str) -> str:
    return subprocess.run([str(BIN / "sagepipe"), "--home", str(settings.home), "--port",
                           str(settings.port), "logs", name], capture_output=True, text=True,
                          timeout=120, check=True).stdout


def test_invocations_are_logged_in_the_functions_log_group(lam, local_aws):
    """Read back as CloudWatch Logs (`aws logs filter-log-events`) and by `sagepipe logs`:
    the sandbox's stream, the handler's output between START and END, REPORT with the Init
    Duration of the cold start only."""
    name = create(lam)
    response, answer = invoke(lam, name)
    cold = response["ResponseMetadata"]["RequestId"]
    warm = invoke(lam, name)[0]["ResponseMetadata"]["RequestId"]
    events = aws_cli(local_aws, "logs", "filter-log-events", "--log-group-name",
                     f"/aws/lambda/{name}")["events"]
    (stream,) = {e["logStreamName"] for e in events}
    assert stream == answer["context"]["log_stream_name"]  # the one the sandbox was told
    day = time.strftime("%Y/%m/%d", time.gmtime())
    assert re.fullmatch(rf"{day}/\[\$LATEST\][0-9a-f]{{32}}", stream)
    messages = [e["message"] for e in events]
    assert messages[0].startswith("INIT_START Runtime Version: python3.12")
    assert "module imported" in messages
    start = messages.index(f"START RequestId: {cold} Version: $LATEST")
    assert messages[start + 1] == "action echo"
    assert messages[start + 2] == f"END RequestId: {cold}"
    cold_report, warm_report = (m for m in messages if m.startswith("REPORT"))
    assert cold_report.startswith(f"REPORT RequestId: {cold}\tDuration: ")
    for field in ("Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: ",
                  "Init Duration: "):
        assert field in cold_report
    assert warm_report.startswith(f"REPORT RequestId: {warm}")
    assert "Init Duration" not in warm_report
    assert messages[-4:] == [f"START RequestId: {warm} Version: $LATEST", "action echo",
                             f"END RequestId: {warm}", warm_report]
    timestamps = [e["timestamp"] for e in events]
    assert timestamps == sorted(timestamps) and abs(timestamps[-1] / 1000 - time.time()) < 60
    assert sagepipe_logs(local_aws, name).splitlines() == messages


def test_aws_logs_tail_shows_a_functions_log(lam, local_aws, cli_v2):
    name = create(lam)
    request = invoke(lam, name, {"action": "echo"})[0]["ResponseMetadata"]["RequestId"]
    command, env = tail_command(cli_v2, local_aws, f"/aws/lambda/{name}")
    shown = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                           check=False)
    assert shown.returncode == 0, shown.stderr
    lines = [line.split(" ", 1)[1] for line in shown.stdout.splitlines()]
    assert lines[lines.index(f"START RequestId: {request} Version: $LATEST"):][:3] == [
        f"START RequestId: {request} Version: $LATEST", "action echo",
        f"END RequestId: {request}"]
    assert lines[-1].startswith(f"REPORT RequestId: {request}\tDuration: ")


def test_the_aws_cli_invokes_unchanged(local_aws, function, tmp_path):
    out = tmp_path / "out.json"
    done = subprocess.run([str(BIN / "aws"), "lambda", "invoke", "--function-name", function,
                           "--payload", '{"action": "echo", "from": "cli"}', "--log-type",
                           "Tail", str(out)], env={**os.environ, **local_env(local_aws)},
                          capture_output=True, text=True, check=True)
    reply = json.loads(done.stdout)
    assert reply["StatusCode"] == 200 and "LogResult" in reply
    assert json.loads(out.read_text())["event"] == {"action": "echo", "from": "cli"}


def test_unknown_invocation_types_are_refused(lam, function):
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=function, InvocationType="Later")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_empty_payload_is_an_empty_event(lam, function):
    answer = json.loads(lam.invoke(FunctionName=function)["Payload"].read())
    assert answer["event"] == {}


def test_zip_members_outside_the_package_stay_inside(lam, local_aws):
    name = create(lam, {"app.py": "import os\n\ndef handler(event, context):\n"
                                  "    return sorted(os.listdir('.'))\n",
                        "../escaped.txt": "no"})
    assert "escaped.txt" in invoke(lam, name)[1]
    assert not (local_aws.home / "lambda" / "escaped.txt").exists()
