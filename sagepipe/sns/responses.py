"""The local SNS on the wire (query protocol): its handler table."""

from __future__ import annotations

from sagepipe.edge import AwsService
from sagepipe.sns.models import Sns


def sns_service(sns: Sns) -> AwsService:
    return AwsService("sns", "SNS", {
        "CreateTopic": sns.create_topic,
        "DeleteTopic": sns.delete_topic,
        "ListTopics": sns.list_topics,
        "GetTopicAttributes": sns.get_topic_attributes,
        "SetTopicAttributes": sns.set_topic_attributes,
        "Subscribe": sns.subscribe,
        "Unsubscribe": sns.unsubscribe,
        "ListSubscriptions": sns.list_subscriptions,
        "ListSubscriptionsByTopic": sns.list_subscriptions_by_topic,
        "GetSubscriptionAttributes": sns.get_subscription_attributes,
        "SetSubscriptionAttributes": sns.set_subscription_attributes,
        "Publish": sns.publish,
        "TagResource": sns.tag_resource,
        "UntagResource": sns.untag_resource,
        "ListTagsForResource": sns.list_tags_for_resource,
    })
