"""A file above the stack's TransformThresholdBytes goes to a batch transform job of the model
behind the endpoint: the job reads a copy without the header line and writes each row with its
prediction; the marker next to where the predictions would be says which job, and a
redelivered event starts no second job."""

from __future__ import annotations

import json

from inference_kit import FAST, TRANSFORM_THRESHOLD_BYTES, Deployed, rows_of


def test_a_file_above_the_threshold_is_scored_by_a_transform_job(deployed: Deployed):
    lines = [f"p{i},{1 + i % 3},{('male', 'female')[i % 2]},{i % 80}" for i in range(6000)]
    body = ("Name,Pclass,Sex,Age\n" + "\n".join(lines) + "\n").encode()
    assert len(body) > TRANSFORM_THRESHOLD_BYTES
    key = "incoming/huge.csv"
    head = deployed.upload(key, body)

    marker = json.loads(deployed.output(f"predictions/{key}.transform.json"))
    job = marker["TransformJobName"]
    assert job.startswith("bi-batch-inference-")
    assert marker["Output"] == f"s3://{deployed.output_bucket}/predictions/{key}.out"
    assert marker["Columns"] == ["Name", "Pclass", "Sex", "Age", "predicted_survived",
                                 "survival_probability"]
    assert f"{len(body)} bytes, above the function's limit" in marker["Reason"]

    sagemaker = deployed.client("sagemaker")
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=job, WaiterConfig=FAST)
    described = sagemaker.describe_transform_job(TransformJobName=job)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    endpoint = sagemaker.describe_endpoint(EndpointName=deployed.endpoint)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert described["ModelName"] == config["ProductionVariants"][0]["ModelName"]
    assert described["DataProcessing"] == {"InputFilter": "$[1,2,3]", "JoinSource": "Input"}

    output = rows_of(deployed.output(f"predictions/{key}.out"))
    assert [",".join(row[:4]) for row in output] == lines  # no header line, every row
    assert {row[4] for row in output} == {"0", "1"}
    assert all(0 <= float(row[5]) <= 1 for row in output)

    # The same event again: the job is found, none is started.
    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": deployed.input_bucket},
        "object": {"key": key, "size": len(body), "eTag": head["ETag"].strip('"'),
                   "versionId": head["VersionId"], "sequencer": "0"}}}]}
    answer = deployed.client("lambda").invoke(FunctionName=deployed.function,
                                              Payload=json.dumps(event).encode())
    (result,) = json.loads(answer["Payload"].read())["objects"]
    assert result["status"] == "unchanged"
    jobs = sagemaker.list_transform_jobs(NameContains="bi-batch-inference-")
    assert [j["TransformJobName"] for j in jobs["TransformJobSummaries"]] == [job]


def test_a_run_without_time_to_finish_hands_the_file_over_instead_of_timing_out(
        deployed: Deployed):
    """TIME_RESERVE_SECONDS as long as the timeout: the run has no time at all, whatever the
    file's size, and hands it to a transform job before sending a row."""
    lam = deployed.client("lambda")
    environment = lam.get_function_configuration(FunctionName=deployed.function)["Environment"]
    short = {**environment["Variables"], "TIME_RESERVE_SECONDS": "60"}
    lam.update_function_configuration(FunctionName=deployed.function,
                                      Environment={"Variables": short})
    try:
        key = "incoming/no-time.csv"
        deployed.upload(key, b"Pclass,Sex,Age\n1,female,29\n3,male,\n")
        marker = json.loads(deployed.output(f"predictions/{key}.transform.json"))
    finally:
        lam.update_function_configuration(FunctionName=deployed.function,
                                          Environment=environment)
    assert marker["Reason"].startswith("0 rows scored in 0 s; the rest needs about 0 s and "
                                       "the run has 0 s left")
    assert deployed.read(f"predictions/{key}") is None
    sagemaker = deployed.client("sagemaker")
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=marker["TransformJobName"], WaiterConfig=FAST)
    output = rows_of(deployed.output(f"predictions/{key}.out"))
    assert [row[:3] for row in output] == [["1", "female", "29"], ["3", "male", ""]]
