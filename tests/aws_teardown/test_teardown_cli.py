"""`sagepipe teardown` (the CLI) against moto's AWS: confirmation, progress and errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from teardown_kit import IGNORE_MOTO_GAPS, PROJECT, Deployed
from typer.testing import CliRunner

from sagepipe.cli import app
from sagepipe.cli import aws as aws_cli

pytestmark = pytest.mark.filterwarnings(IGNORE_MOTO_GAPS)
runner = CliRunner()


def stacks_left(deployed: Deployed) -> list[str]:
    cf = deployed.client("cloudformation")
    left = []
    for name in deployed.stacks:
        try:
            cf.describe_stacks(StackName=name)
            left.append(name)
        except ClientError:
            pass
    return left


def bucket_exists(deployed: Deployed) -> bool:
    return deployed.bucket in [b["Name"] for b in deployed.client("s3").list_buckets()["Buckets"]]


def test_yes_deletes_everything_and_reports_each_step(deployed: Deployed):
    result = runner.invoke(app, ["teardown", "--yes"])

    assert result.exit_code == 0, result.output
    assert stacks_left(deployed) == [] and not bucket_exists(deployed)
    steps = [line.split(":")[0] for line in result.stdout.splitlines()
             if not line.endswith("deleting (was CREATE_COMPLETE)")]
    assert steps == [f"stack {PROJECT}-api", f"stack {PROJECT}-batch-inference",
                     f"stack {PROJECT}-endpoint-prod",
                     f"stack {PROJECT}-endpoint-qa", f"stack {PROJECT}-training",
                     f"bucket {deployed.bucket}",
                     f"repository {deployed.repository}", f"stack {PROJECT}-pipeline"]
    assert "teardown complete" in result.stderr


def test_refuses_without_confirmation_when_not_interactive(deployed: Deployed):
    result = runner.invoke(app, ["teardown"])  # CliRunner's stdin is not a terminal

    assert result.exit_code != 0
    assert "refusing to delete without confirmation" in result.stderr
    assert "--yes" in result.stderr
    assert stacks_left(deployed) == list(deployed.stacks) and bucket_exists(deployed)


@pytest.mark.parametrize(("answer", "deleted"), [("n\n", False), ("\n", False), ("y\n", True)])
def test_asks_in_a_terminal_listing_what_goes(deployed: Deployed, monkeypatch: pytest.MonkeyPatch,
                                               answer: str, deleted: bool):
    monkeypatch.setattr(aws_cli, "interactive", lambda: True)

    result = runner.invoke(app, ["teardown"], input=answer)

    for name in (*deployed.stacks, deployed.bucket, deployed.repository):
        assert name in result.stderr
    assert "Delete all of it? [y/N]" in result.stderr
    if deleted:
        assert result.exit_code == 0, result.output
        assert stacks_left(deployed) == [] and not bucket_exists(deployed)
    else:
        assert result.exit_code != 0 and "aborted: nothing was deleted" in result.stderr
        assert stacks_left(deployed) == list(deployed.stacks) and bucket_exists(deployed)


def test_missing_credentials_exit_with_what_to_do(no_aws_config: None):
    result = runner.invoke(app, ["teardown", "--yes", "--region", "us-east-1"])

    assert result.exit_code == 1
    assert "no AWS credentials found" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_profile_is_an_error_not_a_traceback(no_aws_config: None):
    result = runner.invoke(app, ["teardown", "--yes", "--profile", "nope"])

    assert result.exit_code == 1
    assert "nope" in result.stderr and "could not be found" in result.stderr
