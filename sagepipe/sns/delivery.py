"""Where SNS deliveries go locally, and what they look like.

Email: SNS sends from `no-reply@sns.amazonaws.com`, the topic's DisplayName as the sender's
name, the message's Subject (else "AWS Notification Message"), the message and SNS's footer.
Locally each email is a real .eml file in the home's outbox, `<timestamp>-<topic>.eml`, that
any mail client opens. A new email subscription gets SNS's confirmation email there too
(`<timestamp>-<topic>-confirmation.eml`), which says that it was confirmed at once: there is
no mailbox to click from.

Lambda: the function is invoked asynchronously (InvocationType Event) through the local AWS's
Lambda API, with the event SNS sends (`Records[0].Sns`), from a thread: a publish never waits
for, nor fails because of, a subscriber.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SENDER = "no-reply@sns.amazonaws.com"
DEFAULT_SUBJECT = "AWS Notification Message"
CONFIRMATION_SUBJECT = "AWS Notification - Subscription Confirmation"


def _email(sender_name: str, recipient: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = Address(sender_name, addr_spec=SENDER)
    msg["To"] = recipient
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="sns.amazonaws.com")
    msg.set_content(body)
    return msg


def unsubscribe_url(region: str, subscription: dict[str, Any]) -> str:
    return (f"https://sns.{region}.amazonaws.com/unsubscribe.html?SubscriptionArn="
            f"{subscription['SubscriptionArn']}&Endpoint={subscription['Endpoint']}")


def notification_email(topic: dict[str, Any], subscription: dict[str, Any], region: str,
                       subject: str | None, text: str) -> EmailMessage:
    """The email SNS sends an `email` subscriber for one message."""
    body = (f"{text}\n\n--\nIf you wish to stop receiving notifications from this topic, please "
            "click or visit the link below to unsubscribe:\n"
            f"{unsubscribe_url(region, subscription)}\n\nPlease do not reply directly to this "
            "email. If you have any questions or comments regarding this email, please contact "
            "us at https://aws.amazon.com/support\n")
    return _email(display_name(topic), subscription["Endpoint"], subject or DEFAULT_SUBJECT,
                  body)


def json_email(topic: dict[str, Any], subscription: dict[str, Any],
               notification: dict[str, Any]) -> EmailMessage:
    """The email SNS sends an `email-json` subscriber: the notification document."""
    return _email(display_name(topic), subscription["Endpoint"],
                  notification.get("Subject") or DEFAULT_SUBJECT,
                  json.dumps(notification, indent=2))


def confirmation_email(topic: dict[str, Any], subscription: dict[str, Any]) -> EmailMessage:
    """SNS's confirmation request, as it reads locally: already confirmed."""
    body = (f"You have chosen to subscribe to the topic: \n{topic['TopicArn']}\n\n"
            "sagepipe's local SNS confirmed this subscription at once: there is no mailbox to "
            "click from locally. In AWS this email holds the \"Confirm subscription\" link, and "
            "the subscription stays \"PendingConfirmation\" until it is clicked.\n"
            f"Subscription: {subscription['SubscriptionArn']}\n\n"
            "Please do not reply directly to this email. If you wish to remove yourself from "
            "receiving all future SNS subscription confirmation requests please send an email "
            "to sns-opt-out\n")
    return _email(display_name(topic), subscription["Endpoint"], CONFIRMATION_SUBJECT, body)


def display_name(topic: dict[str, Any]) -> str:
    return topic["Attributes"].get("DisplayName") or "AWS Notifications"


class Outbox:
    """The home's outbox: one .eml file per email, never overwritten."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, topic_name: str, msg: EmailMessage, kind: str = "") -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now * 1e6) % 10**6:06d}Z"
        stem = f"{stamp}-{topic_name}" + (f"-{kind}" if kind else "")
        for attempt in range(1, 1000):
            path = self.directory / (f"{stem}.eml" if attempt == 1 else f"{stem}-{attempt}.eml")
            try:
                with path.open("xb") as out:
                    out.write(bytes(msg))
                return path
            except FileExistsError:
                continue
        raise FileExistsError(f"{stem}.eml and its numbered variants exist in {self.directory}")


def lambda_event(notification: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The event SNS invokes a subscribed function with."""
    sns = {key: notification[key] for key in ("Type", "MessageId", "TopicArn", "Subject",
                                              "Message", "Timestamp", "UnsubscribeUrl")}
    sns["MessageAttributes"] = {name: {"Type": value["DataType"],
                                       "Value": value.get("StringValue",
                                                          value.get("BinaryValue"))}
                                for name, value in notification["MessageAttributes"].items()}
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "EventSubscriptionArn": subscription_arn, "Sns": sns}]}


class LambdaDelivery:
    """Invokes subscribed functions asynchronously through the local Lambda API."""

    def __init__(self, lambda_client: Callable[[], Any]) -> None:
        self.lambda_client = lambda_client

    def deliver(self, function_arn: str, event: dict[str, Any]) -> None:
        threading.Thread(target=self._invoke, args=(function_arn, event), daemon=True,
                         name="sns-lambda-delivery").start()

    def _invoke(self, function_arn: str, event: dict[str, Any]) -> None:
        try:
            self.lambda_client().invoke(FunctionName=function_arn, InvocationType="Event",
                                        Payload=json.dumps(event).encode())
        except Exception as exc:  # a subscriber's failure is logged, never the publisher's
            log.warning("SNS delivery to %s failed: %s", function_arn, exc)
