"""What writing a process's output as a CloudWatch log stream costs, and how long the local
CloudWatch Logs takes to read a long stream.

- a child printing 200,000 lines of ~70 bytes, its output appended to a plain file (what the
  local AWS did before) and piped into a log stream (a pump thread timestamps each line);
- on that ~20 MB stream: GetLogEvents of the latest 10,000 events (read from the end) and of the
  first 10,000, FilterLogEvents with a phrase (a scan of the whole stream), and FilterLogEvents
  from a recent startTime (what `aws logs tail --follow` asks every 5 s).
Median of several runs:

    .venv/bin/python bench/logs.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sagepipe.config import Settings
from sagepipe.logs.models import CloudWatchLogs
from sagepipe.logs.streams import LogStream, job_stream
from sagepipe.processes import spawn

LINES = 200_000
PRINTER = f"for i in range({LINES}): print(f'line {{i}} ' + 'x' * 60)"
GROUP = "/aws/sagemaker/TrainingJobs"


def seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def to_file(path: Path) -> None:
    spawn([sys.executable, "-c", PRINTER], path).wait()


def to_stream(stream: LogStream) -> None:
    spawn([sys.executable, "-c", PRINTER], stream).wait()
    stream.settle(60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(Path(tmp))
        plain = seconds(lambda: to_file(Path(tmp) / "plain.log"), runs)
        streamed = seconds(lambda: to_stream(job_stream(settings, "TrainingJobs", "bench")),
                           runs)
        print(f"{LINES} lines to a plain file: {plain:.2f} s; to a log stream: {streamed:.2f} s")
        stream = job_stream(settings, "TrainingJobs", "read")
        to_stream(stream)
        logs = CloudWatchLogs(settings)
        recent = int(time.time() * 1000) - 1000
        calls = {
            "GetLogEvents, latest 10,000": lambda: logs.get_log_events(
                {"logGroupName": GROUP, "logStreamName": stream.name}),
            "GetLogEvents, first 10,000": lambda: logs.get_log_events(
                {"logGroupName": GROUP, "logStreamName": stream.name, "startFromHead": True}),
            "FilterLogEvents, a phrase": lambda: logs.filter_log_events(
                {"logGroupName": GROUP, "logStreamNames": [stream.name],
                 "filterPattern": '"line 199999"'}),
            "FilterLogEvents, since 1 s ago": lambda: logs.filter_log_events(
                {"logGroupName": GROUP, "startTime": recent}),
        }
        print(f"on a {stream.size() / 1e6:.0f} MB stream:")
        for label, call in calls.items():
            print(f"  {label}: {seconds(call, runs) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
