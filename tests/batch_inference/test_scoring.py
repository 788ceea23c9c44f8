"""Files dropped in the input bucket, scored by the real function through the real endpoint:
with and without a header, with rows the model refuses, in several requests, and delivered
twice."""

from __future__ import annotations

import json
import re
import time

from inference_kit import (
    ROWS_PER_REQUEST,
    Deployed,
    capture_bodies,
    rows_of,
    s3_event,
    wait_for,
)
from testkit import TEST_DATA

PREDICTED = ["predicted_survived", "survival_probability"]
FOUR_DECIMALS = re.compile(r"\.\d{4}$")
CAPTURE_FLUSH_SECONDS = 2.5  # the local data capture uploads what it buffered every 2 s


def endpoint_answers(deployed: Deployed, lines: list[str]) -> list[list[str]]:
    """What the endpoint answers for these `Pclass,Sex,Age` lines, asked directly."""
    answer = deployed.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=deployed.endpoint, Body="\n".join(lines).encode(),
        ContentType="text/csv", Accept="text/csv")
    return [line.split(",") for line in answer["Body"].read().decode().splitlines()]


def test_a_file_with_a_header_gets_its_columns_and_the_endpoints_predictions(deployed):
    given = (TEST_DATA / "titanic_test.csv").read_bytes()  # Survived,Pclass,Sex,Age
    head = deployed.upload("incoming/passengers.csv", given)
    started = time.monotonic()
    output = deployed.output("predictions/incoming/passengers.csv")
    print(f"predictions {time.monotonic() - started:.2f} s after the upload")
    header, *scored = rows_of(output)
    inputs = rows_of(given)
    assert header == [*inputs[0], *PREDICTED]
    assert [row[:4] for row in scored] == inputs[1:]  # every row, in order, as it was
    assert [row[4:] for row in scored] == endpoint_answers(
        deployed, [",".join(row[1:]) for row in inputs[1:]])
    made_from = deployed.client("s3").head_object(
        Bucket=deployed.output_bucket, Key="predictions/incoming/passengers.csv")["Metadata"]
    assert made_from["source-etag"] == head["ETag"].strip('"')
    assert made_from["source-version-id"] == head["VersionId"]
    assert deployed.read("predictions/incoming/passengers.csv.errors.csv") is None


def test_a_file_without_a_header_starts_its_rows_with_the_models_columns(deployed):
    given = b"3,male,22,Braund\n1,female,38,Cumings\n3,female,,Heikkinen\n"
    key = "incoming/no header/3 rows+names.csv"  # S3 sends the key URL-encoded
    deployed.upload(key, given)
    header, *scored = rows_of(deployed.output(f"predictions/{key}"))
    assert header == ["Pclass", "Sex", "Age", "column4", *PREDICTED]
    assert [row[:4] for row in scored] == rows_of(given)
    assert [row[4:] for row in scored] == endpoint_answers(
        deployed, ["3,male,22", "1,female,38", "3,female,"])


def test_rows_the_model_refuses_go_to_the_error_report_and_the_others_are_predicted(deployed):
    given = (b"Name,Pclass,Sex,Age\n"
             b"Ann,1,female,29\n"
             b"Bob,4,male,22\n"        # line 3: no such class
             b"Cid,2,male,abc\n"       # line 4: not a number
             b"\n"
             b"Dee,3,female,8\n"
             b"Eve,1,cat,30\n"         # line 7
             b"Fay,2,female\n"         # line 8: a column short
             b"Gus,3,male,140\n"       # line 9: too old
             b"Hal,3,male,\n")
    deployed.upload("incoming/bad-rows.csv", given)
    header, *scored = rows_of(deployed.output("predictions/incoming/bad-rows.csv"))
    assert header == ["Name", "Pclass", "Sex", "Age", *PREDICTED]
    assert [row[0] for row in scored] == ["Ann", "Dee", "Hal"]
    assert [row[4:] for row in scored] == endpoint_answers(
        deployed, ["1,female,29", "3,female,8", "3,male,"])
    report = rows_of(deployed.output("predictions/incoming/bad-rows.csv.errors.csv"))
    assert report == [
        ["line", "error", "Name", "Pclass", "Sex", "Age"],
        ["3", "column Pclass: 4 is not one of 1, 2, 3", "Bob", "4", "male", "22"],
        ["4", "column Age: 'abc' is not a number", "Cid", "2", "male", "abc"],
        ["7", "column Sex: 'cat' is not one of female, male", "Eve", "1", "cat", "30"],
        ["8", "3 columns, expected 4 (as in the header)", "Fay", "2", "female"],
        ["9", "column Age: 140 is outside 0 to 120 years", "Gus", "3", "male", "140"]]
    (summary,) = [line for line in deployed.log_lines(deployed.function, '"bad-rows.csv"')
                  if "InvokeEndpoint requests" in line]
    assert "8 rows: 3 predicted, 5 refused" in summary


def test_a_file_that_is_not_csv_of_the_models_columns_gets_a_report_and_no_predictions(
        deployed):
    key = "incoming/wrong-header.csv"
    head = deployed.upload(key, b"Pclass,Gender,Age\n1,female,29\n")
    report = rows_of(deployed.output(f"predictions/{key}.errors.csv"))
    assert report == [["error"], ["line 1: the header 'Pclass,Gender,Age' lacks Sex; it must "
                                  "name each of Pclass,Sex,Age once (other columns are kept)"]]
    assert deployed.read(f"predictions/{key}") is None
    # Delivered again: the report stands for the file, nothing is read or written again.
    event = s3_event(deployed, key, head, sequencer="00000000000000FFFF")
    answer = deployed.client("lambda").invoke(FunctionName=deployed.function,
                                              Payload=json.dumps(event).encode())
    (result,) = json.loads(answer["Payload"].read())["objects"]
    assert result["status"] == "unchanged", result
    versions = deployed.client("s3").list_object_versions(
        Bucket=deployed.output_bucket, Prefix=f"predictions/{key}")["Versions"]
    assert len(versions) == 1


def test_a_large_file_is_sent_in_batches(deployed):
    count = 10 * ROWS_PER_REQUEST - 3
    # Ages with four decimals, unique to this file, find its requests in the data capture.
    lines = [f"{1 + i % 3},{('male', 'female')[i % 2]},{i % 70}.{i:04d}" for i in range(count)]
    deployed.upload("incoming/large.csv", ("\n".join(lines) + "\n").encode())
    _, *scored = rows_of(deployed.output("predictions/incoming/large.csv"))
    assert len(scored) == count and [",".join(row[:3]) for row in scored] == lines

    def requests_of_this_file() -> list[str] | None:
        found = [body for body in capture_bodies(deployed.settings)
                 if FOUR_DECIMALS.search(body.partition("\n")[0])]
        return found if len(found) >= 10 else None

    wait_for(requests_of_this_file, "10 captured requests", bound=30)
    time.sleep(CAPTURE_FLUSH_SECONDS)  # any later request would have been flushed by now
    bodies = requests_of_this_file()
    assert sorted(len(body.splitlines()) for body in bodies) == \
        [ROWS_PER_REQUEST - 3] + [ROWS_PER_REQUEST] * 9
    (summary,) = [line for line in deployed.log_lines(deployed.function, '"large.csv"')
                  if "InvokeEndpoint requests" in line]
    assert f"{count} rows: {count} predicted, 0 refused" in summary
    assert "; 10 InvokeEndpoint requests" in summary


def test_a_redelivered_event_changes_nothing(deployed):
    key = "incoming/twice.csv"
    head = deployed.upload(key, b"Pclass,Sex,Age\n1,female,29\n3,male,40\n")
    deployed.output(f"predictions/{key}")
    s3, lam = deployed.client("s3"), deployed.client("lambda")
    before = s3.list_object_versions(Bucket=deployed.output_bucket,
                                     Prefix=f"predictions/{key}")["Versions"]
    event = s3_event(deployed, key, head, sequencer="00000000000000FFFF")
    for _ in range(2):
        answer = lam.invoke(FunctionName=deployed.function, Payload=json.dumps(event).encode())
        assert "FunctionError" not in answer
        (result,) = json.loads(answer["Payload"].read())["objects"]
        assert result["status"] == "unchanged"
        assert "was already made from this version" in result["why"]
    after = s3.list_object_versions(Bucket=deployed.output_bucket,
                                    Prefix=f"predictions/{key}")["Versions"]
    assert [v["VersionId"] for v in after] == [v["VersionId"] for v in before]
    assert len(after) == 1  # one output, written once


def test_an_event_older_than_the_output_is_skipped(deployed):
    key = "incoming/rewritten.csv"
    first = deployed.upload(key, b"Pclass,Sex,Age\n1,female,29\n")
    deployed.output(f"predictions/{key}")
    stale = s3_event(deployed, key, {**first, "ETag": '"0123"', "VersionId": "older"},
                     sequencer="0")
    answer = deployed.client("lambda").invoke(FunctionName=deployed.function,
                                              Payload=json.dumps(stale).encode())
    (result,) = json.loads(answer["Payload"].read())["objects"]
    assert result["status"] == "unchanged" and "made from a later write" in result["why"]
