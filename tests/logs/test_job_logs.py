"""A training job's output, read as CloudWatch Logs: its stream is named as SageMaker names it,
the SageMaker SDK's way of reading it works (DescribeLogStreams by prefix, then GetLogEvents
with the forward token), `sagepipe logs NAME` prints it, and the AWS CLI's `aws logs tail`
shows it, following it while the job runs and stopping when it is killed."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from logs_kit import training_job
from testkit import tail_command

GROUP = "/aws/sagemaker/TrainingJobs"


def wait_for_status(sm, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = sm.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        assert time.monotonic() < deadline, f"{name} still {job['TrainingJobStatus']}"
        time.sleep(0.2)


def test_the_sdks_way_of_reading_a_jobs_log(aws, local_aws, ticker):
    sm, logs = aws("sagemaker"), aws("logs")
    name = training_job(sm, aws("s3"), ticker, ticks=3)
    wait_for_status(sm, name)
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=name + "/",
                                        orderBy="LogStreamName")
    assert "nextToken" not in streams  # the SDK loops while one is returned
    (stream,) = streams["logStreams"]
    assert re.fullmatch(rf"{name}/algo-1-\d{{10}}", stream["logStreamName"])

    events, token = [], None
    while True:  # sagemaker-core's LogStreamHandler: forward until a page comes back empty
        page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream["logStreamName"],
                                   startFromHead=True, **({"nextToken": token} if token else {}))
        token = page["nextForwardToken"]
        if not page["events"]:
            break
        events += page["events"]
    assert [e["message"] for e in events] == ["tick 1", "tick 2", "tick 3", "done ticking"]
    assert all(e["timestamp"] >= stream["creationTime"] for e in events)

    printed = subprocess.run([str(Path(sys.executable).parent / "sagepipe"), "--home",
                              str(local_aws.home), "logs", name], capture_output=True,
                             text=True, timeout=120, check=False)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines() == ["tick 1", "tick 2", "tick 3", "done ticking"]


def test_aws_logs_tail_shows_a_finished_jobs_log(aws, local_aws, ticker, cli_v2):
    sm = aws("sagemaker")
    name = training_job(sm, aws("s3"), ticker, ticks=3)
    wait_for_status(sm, name)
    command, env = tail_command(cli_v2, local_aws, GROUP, "--log-stream-name-prefix", name)
    shown = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                           check=False)
    assert shown.returncode == 0, shown.stderr
    assert [line.split(" ", 1)[1] for line in shown.stdout.splitlines()] == [
        "tick 1", "tick 2", "tick 3", "done ticking"]


def test_aws_logs_tail_follows_a_running_job_until_killed(aws, local_aws, ticker, cli_v2):
    sm = aws("sagemaker")
    name = training_job(sm, aws("s3"), ticker, ticks=100)  # about 20 s of ticking
    command, env = tail_command(cli_v2, local_aws, GROUP, "--follow",
                                "--log-stream-name-prefix", name)
    follower = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout],
                              daemon=True)
    reader.start()
    try:
        seen: list[str] = []
        status_at_first_line = None
        deadline = time.monotonic() + 180
        while "done ticking" not in seen:
            assert time.monotonic() < deadline, f"tail showed only {seen[-3:]}"
            assert follower.poll() is None, follower.stderr.read()
            try:
                seen.append(lines.get(timeout=1).rstrip("\n").split(" ", 1)[1])
            except queue.Empty:
                continue
            if status_at_first_line is None:
                status_at_first_line = sm.describe_training_job(
                    TrainingJobName=name)["TrainingJobStatus"]
        assert status_at_first_line == "InProgress"  # it showed lines while the job ran
        assert seen == [f"tick {i}" for i in range(1, 101)] + ["done ticking"]
    finally:
        follower.kill()
        follower.wait(timeout=30)
    assert follower.returncode == -9  # it followed until it was killed
    wait_for_status(sm, name)
