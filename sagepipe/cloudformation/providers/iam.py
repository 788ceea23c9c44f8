"""IAM roles, managed policies and inline policies, created for real in the local IAM (recorded
and simulated there, not enforced: see sagepipe/iam). `Ref` and `Fn::GetAtt` answer as AWS's:
a role's name, `Arn` and `RoleId`; a managed policy's ARN; an inline policy's generated id."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from sagepipe.cloudformation.providers.base import Context, ResourceFailed, ResourceProvider, call
from sagepipe.iam.models import unique_id

Props = dict[str, Any]


def document(value: Any) -> str:
    """A policy document property (an object in the template, or a JSON string) as IAM takes it."""
    return value if isinstance(value, str) else json.dumps(value)


def tolerate_missing(fn: Callable[..., Any], **params: Any) -> None:
    """A call that may find its target already gone (a delete, a rollback)."""
    try:
        fn(**params)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise ResourceFailed(f"{exc.response['Error']['Code']}: "
                                 f"{exc.response['Error']['Message']}") from None


def inline(props: Props) -> dict[str, str]:
    return {p["PolicyName"]: document(p["PolicyDocument"]) for p in props.get("Policies", [])}


def tags(props: Props) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in props.get("Tags", [])}


class Role(ResourceProvider):
    type_name, name_property = "AWS::IAM::Role", "RoleName"
    updatable = frozenset({"AssumeRolePolicyDocument", "Policies", "ManagedPolicyArns",
                           "PermissionsBoundary", "Description", "MaxSessionDuration", "Tags"})
    emulated = True

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        """`Arn` assumes the default path `/` (the attribute is asked before the role exists)."""
        return {"Arn": ctx.arn("iam", f"role/{name}"), "RoleId": unique_id("AROA", name)}

    def create(self, ctx: Context, name: str, props: Props) -> None:
        iam = ctx.client("iam")
        params: Props = {"RoleName": name, "Path": props.get("Path", "/"),
                         "AssumeRolePolicyDocument": document(props["AssumeRolePolicyDocument"])}
        for key in ("Description", "PermissionsBoundary"):
            if key in props:
                params[key] = props[key]
        if "MaxSessionDuration" in props:
            params["MaxSessionDuration"] = int(props["MaxSessionDuration"])
        if props.get("Tags"):
            params["Tags"] = props["Tags"]
        call(iam.create_role, **params)
        self.update(ctx, name, {}, {**props, "Tags": []})

    def update(self, ctx: Context, name: str, old: Props, new: Props) -> None:
        """Apply what changed between `old` and `new`, one IAM call per change."""
        iam = ctx.client("iam")
        if old and old.get("AssumeRolePolicyDocument") != new.get("AssumeRolePolicyDocument"):
            call(iam.update_assume_role_policy, RoleName=name,
                 PolicyDocument=document(new["AssumeRolePolicyDocument"]))
        if old and any(old.get(k) != new.get(k) for k in ("Description", "MaxSessionDuration")):
            call(iam.update_role, RoleName=name, Description=new.get("Description", ""),
                 MaxSessionDuration=int(new.get("MaxSessionDuration", 3600)))
        old_inline, new_inline = inline(old), inline(new)
        for policy, text in new_inline.items():
            if old_inline.get(policy) != text:
                call(iam.put_role_policy, RoleName=name, PolicyName=policy, PolicyDocument=text)
        for policy in old_inline.keys() - new_inline.keys():
            tolerate_missing(iam.delete_role_policy, RoleName=name, PolicyName=policy)
        old_arns, new_arns = set(old.get("ManagedPolicyArns", [])), \
            set(new.get("ManagedPolicyArns", []))
        for arn in sorted(new_arns - old_arns):
            call(iam.attach_role_policy, RoleName=name, PolicyArn=arn)
        for arn in sorted(old_arns - new_arns):
            tolerate_missing(iam.detach_role_policy, RoleName=name, PolicyArn=arn)
        if old and old.get("PermissionsBoundary") != new.get("PermissionsBoundary"):
            if new.get("PermissionsBoundary"):
                call(iam.put_role_permissions_boundary, RoleName=name,
                     PermissionsBoundary=new["PermissionsBoundary"])
            else:
                tolerate_missing(iam.delete_role_permissions_boundary, RoleName=name)
        old_tags, new_tags = tags(old), tags(new)
        if gone := sorted(old_tags.keys() - new_tags.keys()):
            call(iam.untag_role, RoleName=name, TagKeys=gone)
        if changed := [{"Key": k, "Value": v} for k, v in new_tags.items()
                       if old_tags.get(k) != v]:
            call(iam.tag_role, RoleName=name, Tags=changed)

    def delete(self, ctx: Context, name: str) -> None:
        """Its inline and attached policies go first, as IAM requires."""
        iam = ctx.client("iam")
        try:
            policies = iam.list_role_policies(RoleName=name)["PolicyNames"]
            attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchEntity":
                return
            raise ResourceFailed(exc.response["Error"]["Message"]) from None
        for policy in policies:
            tolerate_missing(iam.delete_role_policy, RoleName=name, PolicyName=policy)
        for policy in attached:
            tolerate_missing(iam.detach_role_policy, RoleName=name, PolicyArn=policy["PolicyArn"])
        tolerate_missing(iam.delete_role, RoleName=name)


class ManagedPolicy(ResourceProvider):
    """`Ref` is the policy's ARN. A new document becomes the policy's new default version."""

    type_name, name_property = "AWS::IAM::ManagedPolicy", "ManagedPolicyName"
    updatable = frozenset({"PolicyDocument", "Roles", "Description"})
    emulated = True

    def ref(self, ctx: Context, name: str) -> str:
        return ctx.arn("iam", f"policy/{name}")

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"PolicyArn": self.ref(ctx, name), "PolicyId": unique_id("ANPA", name)}

    def create(self, ctx: Context, name: str, props: Props) -> None:
        params = {"PolicyName": name, "Path": props.get("Path", "/"),
                  "PolicyDocument": document(props["PolicyDocument"])}
        if "Description" in props:
            params["Description"] = props["Description"]
        call(ctx.client("iam").create_policy, **params)
        self.update(ctx, name, {"PolicyDocument": props["PolicyDocument"]}, props)

    def update(self, ctx: Context, name: str, old: Props, new: Props) -> None:
        iam, arn = ctx.client("iam"), self.ref(ctx, name)
        if old.get("PolicyDocument") != new.get("PolicyDocument"):
            call(iam.create_policy_version, PolicyArn=arn,
                 PolicyDocument=document(new["PolicyDocument"]), SetAsDefault=True)
        old_roles, new_roles = set(old.get("Roles", [])), set(new.get("Roles", []))
        for role in sorted(new_roles - old_roles):
            call(iam.attach_role_policy, RoleName=role, PolicyArn=arn)
        for role in sorted(old_roles - new_roles):
            tolerate_missing(iam.detach_role_policy, RoleName=role, PolicyArn=arn)

    def delete(self, ctx: Context, name: str) -> None:
        iam, arn = ctx.client("iam"), self.ref(ctx, name)
        for role in iam.list_roles()["Roles"]:
            attached = iam.list_attached_role_policies(RoleName=role["RoleName"])
            if any(p["PolicyArn"] == arn for p in attached["AttachedPolicies"]):
                tolerate_missing(iam.detach_role_policy, RoleName=role["RoleName"], PolicyArn=arn)
        tolerate_missing(iam.delete_policy, PolicyArn=arn)


class Policy(ResourceProvider):
    """An inline policy put into each of its `Roles`. Its physical name is its PolicyName (AWS
    generates an id): deleting it removes the inline policy of that name from the roles of the
    local IAM that have one, since a provider's delete is given the name only."""

    type_name, name_property = "AWS::IAM::Policy", "PolicyName"
    updatable = frozenset({"PolicyDocument", "Roles"})
    emulated = True

    def create(self, ctx: Context, name: str, props: Props) -> None:
        self.update(ctx, name, {}, props)

    def update(self, ctx: Context, name: str, old: Props, new: Props) -> None:
        iam = ctx.client("iam")
        for role in new.get("Roles", []):
            call(iam.put_role_policy, RoleName=role, PolicyName=name,
                 PolicyDocument=document(new["PolicyDocument"]))
        for role in set(old.get("Roles", [])) - set(new.get("Roles", [])):
            tolerate_missing(iam.delete_role_policy, RoleName=role, PolicyName=name)

    def delete(self, ctx: Context, name: str) -> None:
        iam = ctx.client("iam")
        for role in iam.list_roles()["Roles"]:
            if name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
                tolerate_missing(iam.delete_role_policy, RoleName=role["RoleName"],
                                 PolicyName=name)
