"""The log writer every producer goes through (sagepipe/logs/streams.py): a process's output
becomes one event per line, with what the process printed last included once it has ended;
messages of any content survive the file; names are AWS's."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from sagepipe.config import Settings
from sagepipe.logs.streams import (
    MAX_MESSAGE_BYTES,
    LogGroups,
    endpoint_stream,
    job_stream,
    lambda_stream,
    states_stream,
    streams_of,
    transform_stream,
)
from sagepipe.processes import spawn

PRINTER = "import sys\nprint('first', flush=True)\nsys.stderr.write('to stderr\\n')\n" \
          "sys.stdout.write('no newline at the end')\n"


def test_a_process_output_becomes_one_event_per_line(tmp_path):
    stream = job_stream(Settings(tmp_path), "TrainingJobs", "job")
    proc = spawn([sys.executable, "-c", PRINTER], stream)
    proc.wait(timeout=60)
    assert stream.tail(10) == "first\nto stderr\nno newline at the end"  # waits for the pipe
    events = list(stream.events())
    assert [e.message for e in events] == ["first", "to stderr", "no newline at the end"]
    assert all(e.timestamp >= stream.created for e in events)
    assert [e.offset for e in events[1:]] == [e.end for e in events[:-1]]


def test_any_message_survives_the_file(tmp_path):
    stream = LogGroups(tmp_path).stream("/g", "s")
    odd = ["two\nlines", '"quoted"', "", "tab\there", "ünïcode ✓"]
    for message in odd:
        stream.write(message)
    assert [e.message for e in stream.events()] == odd
    stream.write("x" * (MAX_MESSAGE_BYTES + 10))  # longer than CloudWatch takes: split
    assert [len(e.message) for e in stream.last_events(2)] == [MAX_MESSAGE_BYTES, 10]


def test_streams_are_named_as_aws_names_them(tmp_path):
    settings = Settings(tmp_path)
    job = job_stream(settings, "ProcessingJobs", "prep")
    assert job.group == "/aws/sagemaker/ProcessingJobs"
    assert re.fullmatch(r"prep/algo-1-\d{10}", job.name)
    assert transform_stream(settings, "score", "i-0abc").name == "score/i-0abc"
    endpoint = endpoint_stream(settings, "prod", "AllTraffic", "i-0abc")
    assert (endpoint.group, endpoint.name) == ("/aws/sagemaker/Endpoints/prod", "AllTraffic/i-0abc")
    function = lambda_stream(settings, "api-handler")
    assert function.group == "/aws/lambda/api-handler"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", function.name)
    assert [s.name for s in streams_of(tmp_path, "prod")] == ["AllTraffic/i-0abc"]
    assert [s.name for s in streams_of(tmp_path, "prep")] == [job.name]
    assert lambda_stream(settings, "f", "3", group="/custom/f").group == "/custom/f"
    execution = states_stream(settings, "flow")
    assert execution.group == "/aws/vendedlogs/states/flow"
    assert re.fullmatch(r"states/flow/\d{4}-\d\d-\d\d-\d\d-\d\d/[0-9a-f]{8}", execution.name)


def test_executions_are_found_by_the_arn_their_records_carry(tmp_path):
    settings = Settings(tmp_path)
    arns = {"nightly": "arn:aws:states:us-east-1:000000000000:execution:flow:nightly",
            "quick": "arn:aws:states:us-east-1:000000000000:express:fast:quick:0f3c"}
    streams = {}
    for name, arn in arns.items():
        streams[name] = states_stream(settings, arn.split(":")[6])
        streams[name].write(json.dumps({"id": "1", "type": "ExecutionStarted",
                                        "execution_arn": arn}))
    states_stream(settings, "flow").write("not a record")
    assert [s.name for s in streams_of(tmp_path, "nightly")] == [streams["nightly"].name]
    assert [s.name for s in streams_of(tmp_path, "quick")] == [streams["quick"].name]
    assert len(streams_of(tmp_path, "flow")) == 2  # a state machine's name: all its streams


def test_a_name_too_long_for_a_file_name_still_names_its_stream(tmp_path):
    groups = LogGroups(tmp_path)
    long_group, long_stream = "/g/" + "a" * 500, "s/" + "b" * 500
    stream = groups.stream(long_group, long_stream)
    stream.write("kept")
    assert all(len(part.name) < 255 for part in Path(stream.path).parents if part != tmp_path)
    group = groups.get(long_group)
    assert group is not None and [s.name for s in group.streams()] == [long_stream]
    assert [g.name for g in groups.all()] == [long_group]
