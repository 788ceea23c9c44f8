"""The local IAM on the wire (query protocol): its handler table."""

from __future__ import annotations

from sagepipe.edge import AwsService
from sagepipe.iam.models import Iam


def iam_service(iam: Iam) -> AwsService:
    return AwsService("iam", "IAM", {
        "CreateRole": iam.create_role,
        "GetRole": iam.get_role,
        "ListRoles": iam.list_roles,
        "DeleteRole": iam.delete_role,
        "UpdateRole": iam.update_role,
        "UpdateAssumeRolePolicy": iam.update_assume_role_policy,
        "PutRolePermissionsBoundary": iam.put_role_permissions_boundary,
        "DeleteRolePermissionsBoundary": iam.delete_role_permissions_boundary,
        "TagRole": iam.tag_role,
        "UntagRole": iam.untag_role,
        "ListRoleTags": iam.list_role_tags,
        "PutRolePolicy": iam.put_role_policy,
        "GetRolePolicy": iam.get_role_policy,
        "DeleteRolePolicy": iam.delete_role_policy,
        "ListRolePolicies": iam.list_role_policies,
        "CreatePolicy": iam.create_policy,
        "GetPolicy": iam.get_policy,
        "GetPolicyVersion": iam.get_policy_version,
        "CreatePolicyVersion": iam.create_policy_version,
        "DeletePolicy": iam.delete_policy,
        "AttachRolePolicy": iam.attach_role_policy,
        "DetachRolePolicy": iam.detach_role_policy,
        "ListAttachedRolePolicies": iam.list_attached_role_policies,
        "SimulatePrincipalPolicy": iam.simulate_principal_policy,
    })
