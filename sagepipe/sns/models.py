"""Topics and subscriptions (state in the store, one Describe-shaped document each) and
Publish. Errors carry SNS's own texts ("Invalid parameter: Subject", "Topic does not exist").

Deliveries happen as SNS makes them, minus the network: email and email-json subscribers get
an .eml in the home's outbox (written before Publish answers), lambda subscribers an
asynchronous invoke of the local Lambda (delivery.py). An email subscription is confirmed at
once (in AWS it waits for the recipient's click): its confirmation email says so. Policies and
KMS keys are recorded, not enforced: the local AWS has one user and keeps no messages.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from sagepipe.config import ACCOUNT_ID, Settings, arn
from sagepipe.documents import Document, Documents
from sagepipe.errors import NotEmulated
from sagepipe.sns import delivery
from sagepipe.sns.exceptions import InvalidParameter, NotFound, ResourceNotFound, TagLimitExceeded
from sagepipe.store import Store

PAGE = 100  # ListTopics and ListSubscriptions answer 100 per page
TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
FIFO_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+"
                        r"(:[A-Za-z0-9$_-]+)?$")
SUBJECT = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,99}$")  # printable ASCII, no line breaks
MAX_MESSAGE = 256 * 1024
DELIVERED = ("email", "email-json", "lambda")
NOT_DELIVERED = ("http", "https", "sqs", "sms", "application", "firehose")
FEEDBACK = {f"{kind}{what}" for kind in ("Application", "Firehose", "HTTP", "Lambda", "SQS")
            for what in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate",
                         "FailureFeedbackRoleArn")}
TOPIC_ATTRIBUTES = {"DeliveryPolicy", "DisplayName", "Policy", "KmsMasterKeyId",
                    "SignatureVersion", "TracingConfig", "ContentBasedDeduplication",
                    "ArchivePolicy", "FifoThroughputScope", "DataProtectionPolicy"} | FEEDBACK
CREATE_ONLY = {"FifoTopic"}
SUBSCRIPTION_ATTRIBUTES = {"DeliveryPolicy", "FilterPolicy", "FilterPolicyScope",
                           "RawMessageDelivery", "RedrivePolicy", "SubscriptionRoleArn",
                           "ReplayPolicy"}
JSON_ATTRIBUTES = {"DeliveryPolicy", "Policy", "FilterPolicy", "RedrivePolicy",
                   "ArchivePolicy", "DataProtectionPolicy", "ReplayPolicy"}
EFFECTIVE_DELIVERY_POLICY = json.dumps({"http": {
    "defaultHealthyRetryPolicy": {"minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3,
                                  "numMaxDelayRetries": 0, "numNoDelayRetries": 0,
                                  "numMinDelayRetries": 0, "backoffFunction": "linear"},
    "disableSubscriptionOverrides": False,
    "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}}},
    separators=(",", ":"))
MAX_TAGS = 50


def default_policy(topic_arn: str) -> dict[str, Any]:
    """The access policy SNS gives a new topic: its owner account may do everything."""
    return {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
        "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                   "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                   "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
        "Resource": topic_arn,
        "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT_ID}}}]}


def invalid(what: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid parameter: {what}")


def page(items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
    """One page of `items` after `token` (an offset SNS hands out as NextToken)."""
    if token is not None and not token.isdigit():
        raise invalid("NextToken")
    start = int(token or 0)
    more = start + PAGE < len(items)
    return items[start:start + PAGE], str(start + PAGE) if more else None


class Sns:
    def __init__(self, store: Store, settings: Settings,
                 lambdas: delivery.LambdaDelivery) -> None:
        self.settings = settings
        self.topics = Documents(store, "sns_topics", not_found=NotFound, in_use=InvalidParameter)
        self.subscriptions = Documents(store, "sns_subscriptions", not_found=NotFound,
                                       in_use=InvalidParameter)
        self.outbox = delivery.Outbox(settings.home / "outbox")
        self.lambdas = lambdas

    # -- topics ----------------------------------------------------------------------------
    def create_topic(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        attributes = dict(params.get("Attributes") or {})
        fifo = attributes.get("FifoTopic", "false").lower() == "true"
        if not (FIFO_TOPIC_NAME if fifo else TOPIC_NAME).match(name):
            raise invalid("Fifo Topic names must end with .fifo and must be made up of only "
                          "uppercase and lowercase ASCII letters, numbers, underscores, and "
                          "hyphens, and must be between 1 and 256 characters long." if fifo
                          else "Topic Name")
        self._check_attributes(attributes, TOPIC_ATTRIBUTES | CREATE_ONLY)
        if not fifo:
            attributes.pop("FifoTopic", None)
        topic_arn = arn("sns", name, self.settings.region)
        tags = params.get("Tags") or []
        existing = self.topics.find("topic", topic_arn)
        if existing is not None:
            if any(existing["Attributes"].get(k) != v for k, v in attributes.items()):
                raise invalid("Attributes Reason: Topic already exists with different "
                              "attributes")
            if tags and tags != existing["Tags"]:
                raise invalid("Tags Reason: Topic already exists with different tags")
            return {"TopicArn": topic_arn}
        self._check_tags(tags)
        self.topics.put("topic", topic_arn, {"TopicArn": topic_arn, "Name": name,
                                             "Attributes": attributes, "Tags": tags})
        return {"TopicArn": topic_arn}

    def delete_topic(self, params: dict[str, Any]) -> None:
        """Idempotent, as in AWS; the topic's subscriptions go with it."""
        topic_arn = params["TopicArn"]
        for subscription in self._subscriptions_of(topic_arn):
            self.subscriptions.delete("subscription", subscription["SubscriptionArn"])
        if self.topics.find("topic", topic_arn) is not None:
            self.topics.delete("topic", topic_arn)

    def list_topics(self, params: dict[str, Any]) -> dict[str, Any]:
        arns = sorted(t["TopicArn"] for t in self.topics.all("topic"))
        items, token = page(arns, params.get("NextToken"))
        return {"Topics": [{"TopicArn": a} for a in items], "NextToken": token}

    def get_topic_attributes(self, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        subscriptions = self._subscriptions_of(topic["TopicArn"])
        attributes = {"TopicArn": topic["TopicArn"], "Owner": ACCOUNT_ID,
                      "Policy": json.dumps(default_policy(topic["TopicArn"]),
                                           separators=(",", ":")),
                      "DisplayName": "", "SubscriptionsConfirmed": str(len(subscriptions)),
                      "SubscriptionsPending": "0", "SubscriptionsDeleted": "0",
                      "EffectiveDeliveryPolicy": EFFECTIVE_DELIVERY_POLICY,
                      **topic["Attributes"]}
        return {"Attributes": attributes}

    def set_topic_attributes(self, params: dict[str, Any]) -> None:
        name, value = params["AttributeName"], params.get("AttributeValue") or ""
        self._check_attributes({name: value}, TOPIC_ATTRIBUTES)

        def change(topic: Document) -> None:
            topic["Attributes"][name] = value
        self._topic(params["TopicArn"])
        self.topics.update("topic", params["TopicArn"], change)

    # -- tags ------------------------------------------------------------------------------
    def tag_resource(self, params: dict[str, Any]) -> None:
        def change(topic: Document) -> None:
            tags = {t["Key"]: t["Value"] for t in topic["Tags"]}
            tags.update({t["Key"]: t["Value"] for t in params["Tags"]})
            self._check_tags(tags)
            topic["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self._tagged(params["ResourceArn"])
        self.topics.update("topic", params["ResourceArn"], change)

    def untag_resource(self, params: dict[str, Any]) -> None:
        def change(topic: Document) -> None:
            topic["Tags"] = [t for t in topic["Tags"] if t["Key"] not in params["TagKeys"]]
        self._tagged(params["ResourceArn"])
        self.topics.update("topic", params["ResourceArn"], change)

    def list_tags_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self._tagged(params["ResourceArn"])["Tags"]}

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        protocol, endpoint = params["Protocol"].lower(), params.get("Endpoint") or ""
        if protocol in NOT_DELIVERED:
            raise NotEmulated(f"sagepipe's local SNS delivers to {', '.join(DELIVERED)} "
                              f"subscriptions, not {protocol}; subscribe a Lambda function "
                              "that forwards messages, or run this against AWS.")
        if protocol not in DELIVERED:
            raise invalid(f"Amazon SNS does not support this protocol string: {protocol}")
        if protocol.startswith("email") and not EMAIL.match(endpoint):
            raise invalid("Email address")
        if protocol == "lambda" and not LAMBDA_ARN.match(endpoint):
            raise invalid("Lambda endpoint ARN")
        attributes = dict(params.get("Attributes") or {})
        self._check_attributes(attributes, SUBSCRIPTION_ATTRIBUTES)
        if "FilterPolicy" in attributes:
            check_filter_policy(attributes["FilterPolicy"])
        for existing in self._subscriptions_of(topic["TopicArn"]):
            if (existing["Protocol"], existing["Endpoint"]) == (protocol, endpoint):
                return {"SubscriptionArn": existing["SubscriptionArn"]}
        subscription = {"SubscriptionArn": f"{topic['TopicArn']}:{uuid.uuid4()}",
                        "TopicArn": topic["TopicArn"], "Protocol": protocol,
                        "Endpoint": endpoint, "Owner": ACCOUNT_ID, "Attributes": attributes}
        self.subscriptions.put("subscription", subscription["SubscriptionArn"], subscription)
        if protocol.startswith("email"):
            self.outbox.write(topic["Name"], delivery.confirmation_email(topic, subscription),
                              "confirmation")
        return {"SubscriptionArn": subscription["SubscriptionArn"]}

    def unsubscribe(self, params: dict[str, Any]) -> None:
        self._subscription(params["SubscriptionArn"])
        self.subscriptions.delete("subscription", params["SubscriptionArn"])

    def list_subscriptions(self, params: dict[str, Any]) -> dict[str, Any]:
        everything = sorted(self.subscriptions.all("subscription"),
                            key=lambda s: s["SubscriptionArn"])
        items, token = page([summary(s) for s in everything], params.get("NextToken"))
        return {"Subscriptions": items, "NextToken": token}

    def list_subscriptions_by_topic(self, params: dict[str, Any]) -> dict[str, Any]:
        topic = self._topic(params["TopicArn"])
        items, token = page([summary(s) for s in self._subscriptions_of(topic["TopicArn"])],
                            params.get("NextToken"))
        return {"Subscriptions": items, "NextToken": token}

    def get_subscription_attributes(self, params: dict[str, Any]) -> dict[str, Any]:
        subscription = self._subscription(params["SubscriptionArn"])
        return {"Attributes": {
            "SubscriptionArn": subscription["SubscriptionArn"],
            "TopicArn": subscription["TopicArn"], "Protocol": subscription["Protocol"],
            "Endpoint": subscription["Endpoint"], "Owner": ACCOUNT_ID,
            "PendingConfirmation": "false", "ConfirmationWasAuthenticated": "true",
            "RawMessageDelivery": "false", **subscription["Attributes"]}}

    def set_subscription_attributes(self, params: dict[str, Any]) -> None:
        name, value = params["AttributeName"], params.get("AttributeValue") or ""
        self._check_attributes({name: value}, SUBSCRIPTION_ATTRIBUTES)
        if name == "FilterPolicy" and value:
            check_filter_policy(value)

        def change(subscription: Document) -> None:
            subscription["Attributes"][name] = value
        self._subscription(params["SubscriptionArn"])
        self.subscriptions.update("subscription", params["SubscriptionArn"], change)

    # -- publishing ------------------------------------------------------------------------
    def publish(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("PhoneNumber"):
            raise NotEmulated("sagepipe's local SNS does not send SMS; publish to a topic.")
        topic_arn = params.get("TopicArn") or params.get("TargetArn")
        if not topic_arn:
            raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
        topic = self._topic(topic_arn)
        text = params.get("Message") or ""
        attributes = params.get("MessageAttributes") or {}
        self._check_message(topic, params, text, attributes)
        messages = per_protocol(text, params.get("MessageStructure"))
        message_id = str(uuid.uuid4())
        notification = {
            "Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn,
            "Subject": params.get("Subject"), "Timestamp": time.strftime(
                "%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z",
            "MessageAttributes": attributes}
        for subscription in self._subscriptions_of(topic_arn):
            if not filter_matches(subscription["Attributes"].get("FilterPolicy"), attributes):
                continue
            protocol = subscription["Protocol"]
            notice = {**notification, "Message": messages.get(protocol, messages["default"]),
                      "UnsubscribeURL": delivery.unsubscribe_url(self.settings.region,
                                                                 subscription)}
            if protocol == "email":
                self.outbox.write(topic["Name"], delivery.notification_email(
                    topic, subscription, self.settings.region, params.get("Subject"),
                    notice["Message"]))
            elif protocol == "email-json":
                self.outbox.write(topic["Name"], delivery.json_email(topic, subscription, {
                    k: v for k, v in notice.items() if k != "MessageAttributes"}))
            else:
                self.lambdas.deliver(subscription["Endpoint"], delivery.lambda_event(
                    {**notice, "UnsubscribeUrl": notice["UnsubscribeURL"]},
                    subscription["SubscriptionArn"]))
        answer = {"MessageId": message_id}
        if topic_arn.endswith(".fifo"):
            answer["SequenceNumber"] = str(time.time_ns())
        return answer

    # -- checks and look-ups ---------------------------------------------------------------
    def _check_message(self, topic: Document, params: dict[str, Any], text: str,
                       attributes: dict[str, Any]) -> None:
        if not text:
            raise invalid("Empty message")
        size = len(text.encode()) + sum(len(k) + len(json.dumps(v)) for k, v in
                                        attributes.items())
        if size > MAX_MESSAGE:
            raise invalid("Message too long")
        subject = params.get("Subject")
        if subject is not None and not SUBJECT.match(subject):
            raise invalid("Subject")
        for name, value in attributes.items():
            kind = value.get("DataType", "")
            if kind.split(".")[0] not in ("String", "Number", "Binary"):
                raise invalid(f"The message attribute '{name}' has an invalid message "
                              f"attribute type, the set of supported type prefixes is "
                              "Binary, Number, and String.")
            if value.get("StringValue") is None and value.get("BinaryValue") is None:
                raise invalid(f"The message attribute '{name}' must contain non-empty "
                              "message attribute value for message attribute type "
                              f"'{kind}'.")
        if topic["TopicArn"].endswith(".fifo") and not params.get("MessageGroupId"):
            raise invalid("The MessageGroupId parameter is required for FIFO topics")

    @staticmethod
    def _check_attributes(attributes: dict[str, str], allowed: set[str]) -> None:
        for name, value in attributes.items():
            if name not in allowed:
                raise invalid("AttributeName")
            if name in JSON_ATTRIBUTES and value:
                try:
                    json.loads(value)
                except ValueError:
                    raise invalid(f"{name}: failed to parse JSON.") from None

    @staticmethod
    def _check_tags(tags: Any) -> None:
        if len(tags) > MAX_TAGS:
            raise TagLimitExceeded("Could not complete request: tag quota of per resource "
                                   "exceeded")

    def _topic(self, topic_arn: str) -> Document:
        topic = self.topics.find("topic", topic_arn)
        if topic is None:
            raise NotFound("Topic does not exist")
        return topic

    def _tagged(self, resource_arn: str) -> Document:
        topic = self.topics.find("topic", resource_arn)
        if topic is None:
            raise ResourceNotFound("Resource does not exist")
        return topic

    def _subscription(self, subscription_arn: str) -> Document:
        subscription = self.subscriptions.find("subscription", subscription_arn)
        if subscription is None:
            raise NotFound("Subscription does not exist")
        return subscription

    def _subscriptions_of(self, topic_arn: str) -> list[Document]:
        return sorted((s for s in self.subscriptions.all("subscription")
                       if s["TopicArn"] == topic_arn), key=lambda s: s["SubscriptionArn"])


def summary(subscription: Document) -> dict[str, str]:
    return {key: subscription[key] for key in ("SubscriptionArn", "Owner", "Protocol",
                                               "Endpoint", "TopicArn")}


def per_protocol(text: str, structure: str | None) -> dict[str, str]:
    """The message each protocol gets: with MessageStructure `json`, the JSON object's entry for
    the protocol, else its `default` entry (required)."""
    if structure != "json":
        return {"default": text}
    try:
        messages = json.loads(text)
    except ValueError:
        raise invalid("Message Structure - JSON message body failed to parse") from None
    if not isinstance(messages, dict) or not isinstance(messages.get("default"), str):
        raise invalid("Message Structure - No default entry in JSON message body")
    return {k: v for k, v in messages.items() if isinstance(v, str)}


# -- filter policies (the message-attribute forms: exact values, prefix, exists) --------------
def check_filter_policy(text: str) -> None:
    policy = json.loads(text)
    if not isinstance(policy, dict):
        raise invalid("FilterPolicy: the policy must be a JSON object")
    for name, conditions in policy.items():
        if not isinstance(conditions, list):
            raise invalid(f"FilterPolicy: \"{name}\" must be an object or an array")
        for condition in conditions:
            if isinstance(condition, dict) and not set(condition) <= {"prefix", "exists"}:
                raise NotEmulated(f"sagepipe's local SNS filters on exact values, prefix and "
                                  f"exists; the operator(s) {sorted(condition)} of \"{name}\" "
                                  "are not emulated.")


def filter_matches(text: str | None, attributes: dict[str, Any]) -> bool:
    """Whether a message with `attributes` passes the subscription's FilterPolicy."""
    if not text:
        return True
    for name, conditions in json.loads(text).items():
        value = attributes.get(name)
        actual = None if value is None else value.get("StringValue")
        if not any(_condition_matches(condition, actual) for condition in conditions):
            return False
    return True


def _condition_matches(condition: Any, actual: str | None) -> bool:
    if isinstance(condition, dict):
        if "exists" in condition:
            return (actual is not None) == bool(condition["exists"])
        return actual is not None and actual.startswith(str(condition["prefix"]))
    if actual is None:
        return False
    if isinstance(condition, int | float) and not isinstance(condition, bool):
        try:
            return float(actual) == float(condition)
        except ValueError:
            return False
    return actual == condition
