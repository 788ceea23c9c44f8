"""The stack as the local CloudFormation created it: the input bucket's notification (prefix and
suffix filters) to the scoring function, the function's permission for S3 (conditioned on the
account and the bucket), its asynchronous settings (two retries, then the failed-events
function), and what S3 does with writes the filters leave out."""

from __future__ import annotations

import json

from inference_kit import Deployed


def test_the_input_bucket_notifies_the_function_of_csv_files_under_the_prefix(
        deployed: Deployed):
    s3, lam = deployed.client("s3"), deployed.client("lambda")
    function_arn = lam.get_function(FunctionName=deployed.function)["Configuration"]["FunctionArn"]
    config = s3.get_bucket_notification_configuration(Bucket=deployed.input_bucket)
    (entry,) = config["LambdaFunctionConfigurations"]
    assert entry["LambdaFunctionArn"] == function_arn
    assert entry["Events"] == ["s3:ObjectCreated:*"]
    assert sorted((r["Name"].lower(), r["Value"]) for r in entry["Filter"]["Key"]["FilterRules"]) \
        == [("prefix", "incoming/"), ("suffix", ".csv")]
    assert deployed.outputs["InputUri"] == f"s3://{deployed.input_bucket}/incoming/"
    assert s3.get_bucket_versioning(Bucket=deployed.input_bucket)["Status"] == "Enabled"


def test_only_s3_from_this_account_and_bucket_may_invoke_the_function(deployed: Deployed):
    policy = json.loads(deployed.client("lambda").get_policy(
        FunctionName=deployed.function)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnLike": {"AWS:SourceArn": f"arn:aws:s3:::{deployed.input_bucket}"},
        "StringEquals": {"AWS:SourceAccount": "000000000000"}}


def test_failed_events_are_retried_twice_then_go_to_the_failed_events_function(
        deployed: Deployed):
    lam = deployed.client("lambda")
    config = lam.get_function_event_invoke_config(FunctionName=deployed.function,
                                                  Qualifier="$LATEST")
    failed = lam.get_function(FunctionName=f"{deployed.function}-failed")["Configuration"]
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == failed["FunctionArn"]
    assert failed["Handler"] == "failed_events.handler"


def test_writes_the_filters_leave_out_invoke_nothing(deployed: Deployed):
    deployed.upload("incoming/notes.txt", b"Pclass,Sex,Age\n1,female,29\n")
    deployed.upload("elsewhere/passengers.csv", b"Pclass,Sex,Age\n1,female,29\n")
    deployed.upload("incoming/filters-sentinel.csv", b"Pclass,Sex,Age\n1,female,29\n")
    # Events are delivered in the order of their writes: once the third is scored, the others
    # would have been too.
    deployed.output("predictions/incoming/filters-sentinel.csv")
    for key in ("predictions/incoming/notes.txt", "predictions/elsewhere/passengers.csv"):
        assert deployed.read(key) is None
    logged = "\n".join(deployed.log_lines(deployed.function))
    assert "filters-sentinel.csv" in logged
    assert "notes.txt" not in logged and "elsewhere" not in logged
