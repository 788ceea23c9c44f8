"""The local SNS through boto3 and the AWS CLI: topics and their attributes, subscriptions,
Publish delivering to email subscribers as real .eml files in the outbox (what SNS sends:
sender, subject, body, footer), MessageStructure json, filter policies, tags, and SNS's own
errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from testkit import unique

from sagepipe.clients import local_env

BIN = Path(sys.executable).parent



def emails(home: Path, topic: str, kind: str = "") -> list:
    """The outbox's emails for `topic`, oldest first, parsed."""
    pattern = f"*-{topic}-{kind}.eml" if kind else f"*-{topic}.eml"
    return [BytesParser(policy=policy.default).parse(path.open("rb"))
            for path in sorted((home / "outbox").glob(pattern))]


def refused(call, code: str) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert error["Code"] == code, error
    return error["Message"]


def test_an_email_subscription_receives_what_is_published(aws, local_aws):
    sns, name = aws("sns"), unique("approvals")
    topic = sns.create_topic(Name=name, Attributes={"DisplayName": "Release approvals",
                                                    "KmsMasterKeyId": "alias/aws/sns"},
                             Tags=[{"Key": "project", "Value": "sagepipe"}])["TopicArn"]
    assert topic == f"arn:aws:sns:us-east-1:000000000000:{name}"
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "Release approvals"})[
        "TopicArn"] == topic  # idempotent with the same attributes
    subscription = sns.subscribe(TopicArn=topic, Protocol="email",
                                 Endpoint="approver@example.com")["SubscriptionArn"]
    assert subscription.startswith(f"{topic}:")

    (confirmation,) = emails(local_aws.home, name, "confirmation")
    assert confirmation["Subject"] == "AWS Notification - Subscription Confirmation"
    assert confirmation["From"] == "Release approvals <no-reply@sns.amazonaws.com>"
    assert confirmation["To"] == "approver@example.com"
    assert "confirmed this subscription at once" in confirmation.get_content()
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["PendingConfirmation"] == "false"

    message_id = sns.publish(TopicArn=topic, Subject="APPROVAL NEEDED: release 42",
                             Message="Approve release 42?\nCommit: abc123")["MessageId"]
    assert uuid.UUID(message_id)
    (email,) = emails(local_aws.home, name)
    assert email["Subject"] == "APPROVAL NEEDED: release 42"
    assert email["From"] == "Release approvals <no-reply@sns.amazonaws.com>"
    assert email["To"] == "approver@example.com"
    body = email.get_content()
    assert body.startswith("Approve release 42?\nCommit: abc123\n\n--\nIf you wish to stop "
                           "receiving notifications from this topic")
    assert f"unsubscribe.html?SubscriptionArn={subscription}&Endpoint=approver@example.com" \
        in body

    # MessageStructure json: the email entry for email subscribers; no subject: SNS's default
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "email": "for email"}))
    latest = emails(local_aws.home, name)[-1]
    assert latest["Subject"] == "AWS Notification Message"
    assert latest.get_content().startswith("for email\n")

    topic_attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert topic_attributes["KmsMasterKeyId"] == "alias/aws/sns"
    assert topic_attributes["SubscriptionsConfirmed"] == "1"
    assert json.loads(topic_attributes["Policy"])["Statement"][0]["Resource"] == topic
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [
        {"Key": "project", "Value": "sagepipe"}]

    sns.unsubscribe(SubscriptionArn=subscription)
    sns.publish(TopicArn=topic, Message="nobody listens")
    assert len(emails(local_aws.home, name)) == 2
    sns.delete_topic(TopicArn=topic)
    sns.delete_topic(TopicArn=topic)  # idempotent, as in AWS
    assert topic not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]


def test_filter_policies_choose_the_subscribers(aws, local_aws):
    sns, name = aws("sns"), unique("filtered")
    topic = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="prod@example.com",
                  Attributes={"FilterPolicy": json.dumps({"stage": ["prod"]})})
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="all@example.com")
    sns.publish(TopicArn=topic, Message="qa only", MessageAttributes={
        "stage": {"DataType": "String", "StringValue": "qa"}})
    sns.publish(TopicArn=topic, Message="prod", MessageAttributes={
        "stage": {"DataType": "String", "StringValue": "prod"}})
    received = [(e["To"], e.get_content().split("\n")[0]) for e in emails(local_aws.home, name)]
    assert sorted(received) == [("all@example.com", "prod"), ("all@example.com", "qa only"),
                                ("prod@example.com", "prod")]
    sns.delete_topic(TopicArn=topic)


def test_a_subscribed_function_that_does_not_exist_never_fails_the_publisher(aws):
    sns = aws("sns")
    topic = sns.create_topic(Name=unique("to-lambda"))["TopicArn"]
    function = "arn:aws:lambda:us-east-1:000000000000:function:on-approval"
    arn = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)["SubscriptionArn"]
    (listed,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert (listed["SubscriptionArn"], listed["Protocol"], listed["Endpoint"]) == (
        arn, "lambda", function)
    assert sns.publish(TopicArn=topic, Message="{}")["MessageId"]  # never fails the publisher
    sns.delete_topic(TopicArn=topic)
    assert arn not in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]


def test_bad_input_gets_sns_errors(aws):
    sns = aws("sns")
    topic = sns.create_topic(Name=unique("errors"), Attributes={"DisplayName": "one"})[
        "TopicArn"]
    missing = "arn:aws:sns:us-east-1:000000000000:no-such-topic"
    assert refused(lambda: sns.create_topic(Name="bad name!"), "InvalidParameter") == (
        "Invalid parameter: Topic Name")
    assert refused(lambda: sns.create_topic(Name=topic.rsplit(":", 1)[1],
                                            Attributes={"DisplayName": "two"}),
                   "InvalidParameter") == (
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes")
    assert refused(lambda: sns.publish(TopicArn=missing, Message="x"), "NotFound") == (
        "Topic does not exist")
    assert refused(lambda: sns.publish(TopicArn=topic, Message=""), "InvalidParameter") == (
        "Invalid parameter: Empty message")
    assert refused(lambda: sns.publish(TopicArn=topic, Message="x", Subject="two\nlines"),
                   "InvalidParameter") == "Invalid parameter: Subject"
    assert refused(lambda: sns.publish(TopicArn=topic, Message="x" * (256 * 1024 + 1)),
                   "InvalidParameter") == "Invalid parameter: Message too long"
    assert refused(lambda: sns.publish(TopicArn=topic, Message="{}", MessageStructure="json"),
                   "InvalidParameter") == (
        "Invalid parameter: Message Structure - No default entry in JSON message body")
    assert refused(lambda: sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="nobody"),
                   "InvalidParameter") == "Invalid parameter: Email address"
    assert refused(lambda: sns.subscribe(TopicArn=topic, Protocol="carrier-pigeon",
                                         Endpoint="x"), "InvalidParameter") == (
        "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon")
    assert "delivers to email, email-json, lambda" in refused(
        lambda: sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:q"),
        "NotImplemented")
    assert refused(lambda: sns.set_topic_attributes(TopicArn=topic, AttributeName="Colour",
                                                    AttributeValue="red"),
                   "InvalidParameter") == "Invalid parameter: AttributeName"
    assert refused(lambda: sns.unsubscribe(SubscriptionArn=f"{topic}:nope"), "NotFound") == (
        "Subscription does not exist")
    assert refused(lambda: sns.list_tags_for_resource(ResourceArn=missing),
                   "ResourceNotFound") == "Resource does not exist"
    sns.delete_topic(TopicArn=topic)


def test_the_aws_cli_publishes(local_aws):
    env = {**local_env(local_aws), "PATH": f"{BIN}:/usr/bin:/bin", "AWS_PAGER": ""}
    run = lambda *args: subprocess.run([str(BIN / "aws"), "sns", *args, "--output", "json"],  # noqa: E731
                                       env=env, capture_output=True, text=True, check=True)
    name = unique("cli")
    topic = json.loads(run("create-topic", "--name", name).stdout)["TopicArn"]
    run("subscribe", "--topic-arn", topic, "--protocol", "email", "--notification-endpoint",
        "cli@example.com")
    published = json.loads(run("publish", "--topic-arn", topic, "--subject", "from the CLI",
                               "--message", "hello").stdout)
    assert published["MessageId"]
    (email,) = emails(local_aws.home, name)
    assert (email["Subject"], email.get_content().split("\n")[0]) == ("from the CLI", "hello")
    run("delete-topic", "--topic-arn", topic)
