"""SNS topics, subscriptions and topic policies, created for real in the local SNS through its
API (sagepipe/sns): an email subscription of a stack delivers to the home's outbox."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from sagepipe.cloudformation.providers.base import (
    Context,
    ResourceFailed,
    ResourceProvider,
    call,
    changed_properties,
    fixed_name,
    generated_name,
    note_recorded,
)
from sagepipe.sns.models import default_policy

# Template properties that are topic attributes of the same name (documents as JSON text).
TOPIC_ATTRIBUTES = ("DisplayName", "KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication",
                    "SignatureVersion", "TracingConfig", "ArchivePolicy", "DeliveryPolicy",
                    "FifoThroughputScope")
SUBSCRIPTION_ATTRIBUTES = ("DeliveryPolicy", "FilterPolicy", "FilterPolicyScope",
                           "RawMessageDelivery", "RedrivePolicy", "ReplayPolicy",
                           "SubscriptionRoleArn")


def attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def attributes_of(props: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: attribute_text(props[name]) for name in names if name in props}


def ignore_not_found(fn: Any, **params: Any) -> None:
    """A delete that is done when the thing is already gone."""
    try:
        fn(**params)
    except ClientError as exc:
        error = exc.response["Error"]
        if error.get("Code") not in ("NotFound", "ResourceNotFound"):
            raise ResourceFailed(f"{error.get('Code')}: {error.get('Message')}") from None


class Topic(ResourceProvider):
    """`Ref` is the topic's ARN; its name and FIFO-ness are fixed at creation."""

    type_name, name_property = "AWS::SNS::Topic", "TopicName"
    emulated = True

    def physical_name(self, logical_id: str, props: dict[str, Any]) -> str:
        if fixed_name(self, props):
            return fixed_name(self, props)
        fifo = attribute_text(props.get("FifoTopic", False)) == "true"
        return generated_name(logical_id, 251) + (".fifo" if fifo else "")

    def replaces_on_change(self, prop: str) -> bool:
        return prop in ("TopicName", "FifoTopic")

    def ref(self, ctx: Context, name: str) -> str:
        return ctx.arn("sns", name)

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"TopicArn": ctx.arn("sns", name), "TopicName": name}

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        sns = ctx.client("sns")
        call(sns.create_topic, Name=name, Attributes=attributes_of(props, TOPIC_ATTRIBUTES),
             **({"Tags": props["Tags"]} if props.get("Tags") else {}))
        for subscription in props.get("Subscription", []):
            call(sns.subscribe, TopicArn=self.ref(ctx, name), Protocol=subscription["Protocol"],
                 Endpoint=subscription["Endpoint"])
        note_recorded(ctx, props, ("DataProtectionPolicy", "DeliveryStatusLogging"), "SNS")

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        sns, arn = ctx.client("sns"), self.ref(ctx, name)
        for attribute in set(changed_properties(old, new)) & set(TOPIC_ATTRIBUTES):
            call(sns.set_topic_attributes, TopicArn=arn, AttributeName=attribute,
                 AttributeValue=attribute_text(new.get(attribute, "")))
        if new.get("Tags") and new.get("Tags") != old.get("Tags"):
            call(sns.tag_resource, ResourceArn=arn, Tags=new["Tags"])
        before = {(s["Protocol"], s["Endpoint"]) for s in old.get("Subscription", [])}
        after = {(s["Protocol"], s["Endpoint"]) for s in new.get("Subscription", [])}
        for protocol, endpoint in after - before:
            call(sns.subscribe, TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
        if before - after:
            listed = call(sns.list_subscriptions_by_topic, TopicArn=arn)["Subscriptions"]
            for subscription in listed:
                if (subscription["Protocol"], subscription["Endpoint"]) in before - after:
                    call(sns.unsubscribe, SubscriptionArn=subscription["SubscriptionArn"])

    def delete(self, ctx: Context, name: str) -> None:
        ignore_not_found(ctx.client("sns").delete_topic, TopicArn=self.ref(ctx, name))


class Subscription(ResourceProvider):
    """`Ref` is the subscription's ARN, which SNS assigns: `create` returns it."""

    type_name = "AWS::SNS::Subscription"
    emulated = True

    def replaces_on_change(self, prop: str) -> bool:
        return prop in ("TopicArn", "Protocol", "Endpoint", "Region")

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> str:
        reply = call(ctx.client("sns").subscribe, TopicArn=props["TopicArn"],
                     Protocol=props["Protocol"], Endpoint=props.get("Endpoint", ""),
                     Attributes=attributes_of(props, SUBSCRIPTION_ATTRIBUTES),
                     ReturnSubscriptionArn=True)
        return str(reply["SubscriptionArn"])

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        sns = ctx.client("sns")
        for attribute in set(changed_properties(old, new)) & set(SUBSCRIPTION_ATTRIBUTES):
            call(sns.set_subscription_attributes, SubscriptionArn=name, AttributeName=attribute,
                 AttributeValue=attribute_text(new.get(attribute, "")))

    def delete(self, ctx: Context, name: str) -> None:
        ignore_not_found(ctx.client("sns").unsubscribe, SubscriptionArn=name)


class TopicPolicy(ResourceProvider):
    """Sets the policy of each topic; deleting it gives them back SNS's default policy, as in
    AWS. The local AWS records policies without enforcing them."""

    type_name = "AWS::SNS::TopicPolicy"
    emulated = True
    updatable = frozenset({"PolicyDocument", "Topics"})

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        self._set(ctx, props["Topics"], props["PolicyDocument"])

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._reset(ctx, [t for t in old.get("Topics", []) if t not in new["Topics"]])
        self._set(ctx, new["Topics"], new["PolicyDocument"])

    def delete(self, ctx: Context, name: str) -> None:
        self._reset(ctx, ctx.properties.get("Topics", []))

    @staticmethod
    def _set(ctx: Context, topics: list[str], document: Any) -> None:
        for topic in topics:
            call(ctx.client("sns").set_topic_attributes, TopicArn=topic, AttributeName="Policy",
                 AttributeValue=attribute_text(document))

    @staticmethod
    def _reset(ctx: Context, topics: list[str]) -> None:
        for topic in topics:
            ignore_not_found(ctx.client("sns").set_topic_attributes, TopicArn=topic,
                             AttributeName="Policy",
                             AttributeValue=json.dumps(default_policy(topic)))
