"""S3 buckets, created for real in the local S3 through its API.

Versioning and event notifications are applied with the S3 calls CloudFormation makes
(PutBucketVersioning, PutBucketNotificationConfiguration); where the local S3 does not implement
one, the property is recorded and the resource's event says so. Encryption, the public access
block, lifecycle rules, ownership controls and the like are recorded: the local S3 keeps objects
on the owner's disk behind SigV4, which is what those settings protect in AWS. A bucket policy
(`AWS::S3::BucketPolicy`) is recorded too: the local AWS does not evaluate resource policies.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sagepipe.cloudformation.providers.base import (
    Context,
    ResourceFailed,
    ResourceProvider,
    apply_or_note,
    call,
    fixed_name,
    generated_name,
    note_recorded,
)

RECORDED = ("AccelerateConfiguration", "AccessControl", "AnalyticsConfigurations",
            "BucketEncryption", "CorsConfiguration", "IntelligentTieringConfigurations",
            "InventoryConfigurations", "LifecycleConfiguration", "LoggingConfiguration",
            "MetricsConfigurations", "ObjectLockConfiguration", "OwnershipControls",
            "PublicAccessBlockConfiguration", "ReplicationConfiguration", "Tags",
            "WebsiteConfiguration")
# CloudFormation's NotificationConfiguration members -> the API's, with their target key.
NOTIFICATIONS = {"LambdaConfigurations": ("LambdaFunctionConfigurations", "Function",
                                          "LambdaFunctionArn"),
                 "TopicConfigurations": ("TopicConfigurations", "Topic", "TopicArn"),
                 "QueueConfigurations": ("QueueConfigurations", "Queue", "QueueArn")}


def notification_configuration(props: dict[str, Any]) -> dict[str, Any]:
    """A template's NotificationConfiguration as PutBucketNotificationConfiguration takes it."""
    template = props.get("NotificationConfiguration") or {}
    api: dict[str, Any] = {}
    for member, (api_member, target, api_target) in NOTIFICATIONS.items():
        for item in template.get(member, []):
            entry = {api_target: item[target], "Events": [item["Event"]]}
            rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            api.setdefault(api_member, []).append(entry)
    if (template.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled") in (True,
                                                                                      "true"):
        api["EventBridgeConfiguration"] = {}
    return api


class Bucket(ResourceProvider):
    """`Ref` is the bucket name; its name and object lock are fixed at creation."""

    type_name, name_property = "AWS::S3::Bucket", "BucketName"
    emulated = True

    def physical_name(self, logical_id: str, props: dict[str, Any]) -> str:
        return str(fixed_name(self, props) or generated_name(logical_id).lower())

    def replaces_on_change(self, prop: str) -> bool:
        return prop in ("BucketName", "ObjectLockEnabled")

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        region = ctx.region
        return {"Arn": ctx.arn("s3", name), "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com"}

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        call(ctx.client("s3").create_bucket, Bucket=name)
        self._configure(ctx, name, {}, props)

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._configure(ctx, name, old, new)

    def delete(self, ctx: Context, name: str) -> None:
        """As in AWS, a bucket that still holds objects is not deleted: the stack says why."""
        try:
            ctx.client("s3").delete_bucket(Bucket=name)
        except ClientError as exc:
            error = exc.response["Error"]
            if error.get("Code") != "NoSuchBucket":
                raise ResourceFailed(f"{error.get('Code')}: {error.get('Message')}") from None

    @staticmethod
    def _configure(ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        s3 = ctx.client("s3")
        versioning = new.get("VersioningConfiguration")
        if versioning and versioning != old.get("VersioningConfiguration"):
            apply_or_note(ctx, "VersioningConfiguration", s3.put_bucket_versioning, Bucket=name,
                          VersioningConfiguration={"Status": versioning["Status"]})
        notifications = notification_configuration(new)
        if notifications != notification_configuration(old):
            apply_or_note(ctx, "NotificationConfiguration",
                          s3.put_bucket_notification_configuration, Bucket=name,
                          NotificationConfiguration=notifications)
        note_recorded(ctx, new, RECORDED, "S3")


class BucketPolicy(ResourceProvider):
    """Recorded: the local AWS does not evaluate resource policies."""

    type_name = "AWS::S3::BucketPolicy"
