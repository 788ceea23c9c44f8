"""CloudWatch Logs log groups, created for real in the local CloudWatch Logs: `Ref` is the
group's name, `Fn::GetAtt Arn` its ARN (`...:log-group:<name>:*`, as AWS's)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sagepipe.cloudformation.providers.base import Context, ResourceFailed, ResourceProvider, call


def tags(props: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in props.get("Tags", [])}


class LogGroup(ResourceProvider):
    type_name, name_property = "AWS::Logs::LogGroup", "LogGroupName"
    updatable = frozenset({"RetentionInDays", "Tags"})
    emulated = True

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("logs", f"log-group:{name}:*")}

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        params: dict[str, Any] = {"logGroupName": name}
        if group_tags := tags(props):
            params["tags"] = group_tags
        call(ctx.client("logs").create_log_group, **params)
        self.update(ctx, name, {}, {**props, "Tags": []})

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        logs = ctx.client("logs")
        if old.get("RetentionInDays") != new.get("RetentionInDays"):
            if new.get("RetentionInDays"):
                call(logs.put_retention_policy, logGroupName=name,
                     retentionInDays=int(new["RetentionInDays"]))
            else:
                call(logs.delete_retention_policy, logGroupName=name)
        old_tags, new_tags = tags(old), tags(new)
        arn = ctx.arn("logs", f"log-group:{name}")
        if gone := sorted(old_tags.keys() - new_tags.keys()):
            call(logs.untag_resource, resourceArn=arn, tagKeys=gone)
        if changed := {k: v for k, v in new_tags.items() if old_tags.get(k) != v}:
            call(logs.tag_resource, resourceArn=arn, tags=changed)

    def delete(self, ctx: Context, name: str) -> None:
        try:
            ctx.client("logs").delete_log_group(logGroupName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise ResourceFailed(exc.response["Error"]["Message"]) from None
