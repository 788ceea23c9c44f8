"""The local IAM: roles, their inline and attached policies, customer managed policies, and
SimulatePrincipalPolicy, which evaluates a role's recorded policies with the product's policy
evaluator (policy.py) and answers what IAM would answer for it.

Nothing here is enforced: the local AWS lets every call signed with its home's credentials
through, whatever a role allows. The roles exist so that tools that look them up (the
SageMaker SDK checks its execution role with GetRole and SimulatePrincipalPolicy) and stacks
that create them (the local CloudFormation) behave as in AWS.

A managed policy ARN the local IAM does not hold (an AWS managed policy, or one of a stack that
was not deployed locally) can be attached or set as a permissions boundary: it is recorded by
its ARN. Its document is unknown, so SimulatePrincipalPolicy refuses to guess for a role that
has one and says which policy to create locally.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import quote

from sagepipe.config import ACCOUNT_ID, arn
from sagepipe.documents import Document, Documents
from sagepipe.iam.exceptions import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from sagepipe.iam.policy import (
    ALLOW,
    EXPLICIT_DENY,
    Call,
    MalformedPolicy,
    Statement,
    UnsupportedPolicy,
    as_list,
    evaluate,
    matches,
    parse_document,
    statements_of,
)
from sagepipe.store import Store

Params = dict[str, Any]
ROLE, POLICY = "role", "policy"
DEFAULT_MAX_SESSION = 3600
DEFAULT_ITEMS = 100
DECISIONS = {ALLOW: "allowed", EXPLICIT_DENY: "explicitDeny"}  # else implicitDeny


def unique_id(prefix: str, name: str) -> str:
    """An IAM unique id (`AROA...` for a role, `ANPA...` for a policy): 21 characters derived
    from the name, so that the local CloudFormation can say a role's RoleId before creating it
    (AWS draws a new one each time a role is created)."""
    digest = base64.b32encode(hashlib.sha256(f"{ACCOUNT_ID}/{name}".encode()).digest()).decode()
    return prefix + digest[:17]


def role_arn(name: str, path: str = "/") -> str:
    return arn("iam", f"role{path}{name}")


def encoded(document: str) -> str:
    """A policy document as IAM's API returns it: URL-encoded JSON (boto3 decodes it)."""
    return quote(document, safe="")


def _document(text: str) -> dict[str, Any]:
    try:
        return parse_document(text)
    except MalformedPolicy as exc:
        raise MalformedPolicyDocument(str(exc)) from None


def _page(items: list[Any], params: Params) -> tuple[list[Any], Params]:
    """IAM's Marker/MaxItems pagination over a list in a stable order."""
    start = 0
    if marker := params.get("Marker"):
        if not marker.isdigit():
            raise InvalidInput(f"Invalid Marker {marker!r}: pass the Marker a previous page "
                               "returned.")
        start = int(marker)
    limit = params.get("MaxItems", DEFAULT_ITEMS)
    page = items[start:start + limit]
    more = start + limit < len(items)
    return page, {"IsTruncated": more, **({"Marker": str(start + limit)} if more else {})}


def _tags(params: Params) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": t["Value"]} for t in params.get("Tags") or []]


class Iam:
    def __init__(self, store: Store) -> None:
        self.entities = Documents(store, "iam_entities", not_found=NoSuchEntity,
                                  in_use=EntityAlreadyExists)

    # -- roles -------------------------------------------------------------------------------
    def _role(self, name: str) -> Document:
        doc = self.entities.find(ROLE, name)
        if doc is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return doc

    def find_role(self, role_arn_or_name: str) -> Document | None:
        """The role an ARN of the local account (or a name) designates, as GetRole shows it."""
        name = role_arn_or_name
        if role_arn_or_name.startswith("arn:"):
            parts = role_arn_or_name.split(":", 5)
            if len(parts) < 6 or parts[4] != ACCOUNT_ID or not parts[5].startswith("role/"):
                return None
            name = parts[5].rpartition("/")[2]
        doc = self.entities.find(ROLE, name)
        return None if doc is None else self._shown_role(doc)

    @staticmethod
    def _shown_role(doc: Document) -> Params:
        role = dict(doc["Role"])
        role["AssumeRolePolicyDocument"] = encoded(role["AssumeRolePolicyDocument"])
        return role

    def create_role(self, params: Params) -> Params:
        name, path = params["RoleName"], params.get("Path", "/")
        _document(params["AssumeRolePolicyDocument"])
        role: Params = {"Path": path, "RoleName": name, "RoleId": unique_id("AROA", name),
                        "Arn": role_arn(name, path), "CreateDate": time.time(),
                        "AssumeRolePolicyDocument": params["AssumeRolePolicyDocument"],
                        "MaxSessionDuration": params.get("MaxSessionDuration",
                                                         DEFAULT_MAX_SESSION)}
        if "Description" in params:
            role["Description"] = params["Description"]
        if boundary := params.get("PermissionsBoundary"):
            role["PermissionsBoundary"] = self._boundary(boundary)
        if tags := _tags(params):
            role["Tags"] = tags
        doc = {"Role": role, "Inline": {}, "Attached": []}
        if self.entities.find(ROLE, name) is not None:
            raise EntityAlreadyExists(f"Role with name {name} already exists.")
        self.entities.create(ROLE, name, doc)
        return {"Role": self._shown_role(doc)}

    def _boundary(self, policy_arn: str) -> Params:
        self._check_policy_arn(policy_arn)
        return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": policy_arn}

    @staticmethod
    def _check_policy_arn(policy_arn: str) -> None:
        parts = policy_arn.split(":", 5)
        if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("policy/"):
            raise InvalidInput(f"ARN {policy_arn} is not valid: a managed policy's ARN is "
                               "arn:aws:iam::<account>:policy/<name>.")

    def get_role(self, params: Params) -> Params:
        role = self._shown_role(self._role(params["RoleName"]))
        return {"Role": {**role, "RoleLastUsed": {}}}

    def list_roles(self, params: Params) -> Params:
        prefix = params.get("PathPrefix", "/")
        roles = sorted((self._shown_role(d) for d in self.entities.all(ROLE)),
                       key=lambda r: r["RoleName"].lower())
        roles = [{k: v for k, v in r.items() if k not in ("Tags", "PermissionsBoundary")}
                 for r in roles if r["Path"].startswith(prefix)]
        page, more = _page(roles, params)
        return {"Roles": page, **more}

    def delete_role(self, params: Params) -> None:
        name = params["RoleName"]
        doc = self._role(name)
        if doc["Inline"]:
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        if doc["Attached"]:
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")
        self.entities.delete(ROLE, name)

    def update_role(self, params: Params) -> None:
        changes = {k: params[k] for k in ("Description", "MaxSessionDuration") if k in params}
        self._change_role(params["RoleName"], lambda d: d["Role"].update(changes))

    def update_assume_role_policy(self, params: Params) -> None:
        _document(params["PolicyDocument"])
        self._change_role(params["RoleName"], lambda d: d["Role"].update(
            AssumeRolePolicyDocument=params["PolicyDocument"]))

    def put_role_permissions_boundary(self, params: Params) -> None:
        boundary = self._boundary(params["PermissionsBoundary"])
        self._change_role(params["RoleName"],
                          lambda d: d["Role"].update(PermissionsBoundary=boundary))

    def delete_role_permissions_boundary(self, params: Params) -> None:
        self._change_role(params["RoleName"], lambda d: d["Role"].pop("PermissionsBoundary",
                                                                      None))

    def tag_role(self, params: Params) -> None:
        new = {t["Key"]: t["Value"] for t in _tags(params)}

        def change(doc: Document) -> None:
            tags = {t["Key"]: t["Value"] for t in doc["Role"].get("Tags", [])} | new
            doc["Role"]["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self._change_role(params["RoleName"], change)

    def untag_role(self, params: Params) -> None:
        def change(doc: Document) -> None:
            doc["Role"]["Tags"] = [t for t in doc["Role"].get("Tags", [])
                                   if t["Key"] not in params["TagKeys"]]
        self._change_role(params["RoleName"], change)

    def list_role_tags(self, params: Params) -> Params:
        page, more = _page(self._role(params["RoleName"])["Role"].get("Tags", []), params)
        return {"Tags": page, **more}

    def _change_role(self, name: str, change: Any) -> None:
        self._role(name)
        self.entities.update(ROLE, name, change)

    # -- inline policies ---------------------------------------------------------------------
    def put_role_policy(self, params: Params) -> None:
        _document(params["PolicyDocument"])
        self._change_role(params["RoleName"], lambda d: d["Inline"].update(
            {params["PolicyName"]: params["PolicyDocument"]}))

    def get_role_policy(self, params: Params) -> Params:
        name, policy = params["RoleName"], params["PolicyName"]
        text = self._role(name)["Inline"].get(policy)
        if text is None:
            raise NoSuchEntity(f"The role policy with name {policy} cannot be found.")
        return {"RoleName": name, "PolicyName": policy, "PolicyDocument": encoded(text)}

    def delete_role_policy(self, params: Params) -> None:
        name, policy = params["RoleName"], params["PolicyName"]
        if policy not in self._role(name)["Inline"]:
            raise NoSuchEntity(f"The role policy with name {policy} cannot be found.")
        self.entities.update(ROLE, name, lambda d: d["Inline"].pop(policy))

    def list_role_policies(self, params: Params) -> Params:
        page, more = _page(sorted(self._role(params["RoleName"])["Inline"]), params)
        return {"PolicyNames": page, **more}

    # -- managed policies --------------------------------------------------------------------
    def create_policy(self, params: Params) -> Params:
        name, path = params["PolicyName"], params.get("Path", "/")
        _document(params["PolicyDocument"])
        policy_arn = arn("iam", f"policy{path}{name}")
        now = time.time()
        policy: Params = {"PolicyName": name, "PolicyId": unique_id("ANPA", name),
                          "Arn": policy_arn, "Path": path, "DefaultVersionId": "v1",
                          "IsAttachable": True, "CreateDate": now, "UpdateDate": now}
        if "Description" in params:
            policy["Description"] = params["Description"]
        if tags := _tags(params):
            policy["Tags"] = tags
        if self.entities.find(POLICY, policy_arn) is not None:
            raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names "
                                      "are not allowed.")
        self.entities.create(POLICY, policy_arn, {"Policy": policy,
                                                  "Document": params["PolicyDocument"]})
        return {"Policy": self._shown_policy(policy)}

    def _policy(self, policy_arn: str) -> Document:
        doc = self.entities.find(POLICY, policy_arn)
        if doc is None:
            raise NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")
        return doc

    def _shown_policy(self, policy: Params) -> Params:
        roles = [d["Role"] for d in self.entities.all(ROLE)]
        return {**policy,
                "AttachmentCount": sum(1 for d in self.entities.all(ROLE)
                                       if policy["Arn"] in d["Attached"]),
                "PermissionsBoundaryUsageCount": sum(
                    1 for r in roles
                    if r.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
                    == policy["Arn"])}

    def get_policy(self, params: Params) -> Params:
        return {"Policy": self._shown_policy(self._policy(params["PolicyArn"])["Policy"])}

    def get_policy_version(self, params: Params) -> Params:
        doc = self._policy(params["PolicyArn"])
        if params["VersionId"] != doc["Policy"]["DefaultVersionId"]:
            raise NoSuchEntity(f"Policy {params['PolicyArn']} version {params['VersionId']} "
                               "does not exist or is not attachable.")
        return {"PolicyVersion": {"Document": encoded(doc["Document"]),
                                  "VersionId": params["VersionId"], "IsDefaultVersion": True,
                                  "CreateDate": doc["Policy"]["UpdateDate"]}}

    def create_policy_version(self, params: Params) -> Params:
        """A new document for a managed policy. The local IAM keeps the default version only,
        so the new one must become it (SetAsDefault)."""
        if not params.get("SetAsDefault"):
            raise InvalidInput("The local IAM keeps only a policy's default version: create "
                               "the new version with SetAsDefault=true.")
        _document(params["PolicyDocument"])
        self._policy(params["PolicyArn"])
        now = time.time()

        def change(doc: Document) -> None:
            number = int(doc["Policy"]["DefaultVersionId"].removeprefix("v")) + 1
            doc["Policy"].update(DefaultVersionId=f"v{number}", UpdateDate=now)
            doc["Document"] = params["PolicyDocument"]
        doc = self.entities.update(POLICY, params["PolicyArn"], change)
        return {"PolicyVersion": {"VersionId": doc["Policy"]["DefaultVersionId"],
                                  "IsDefaultVersion": True, "CreateDate": now}}

    def delete_policy(self, params: Params) -> None:
        policy = self._shown_policy(self._policy(params["PolicyArn"])["Policy"])
        if policy["AttachmentCount"] or policy["PermissionsBoundaryUsageCount"]:
            raise DeleteConflict("Cannot delete a policy attached to entities.")
        self.entities.delete(POLICY, params["PolicyArn"])

    def attach_role_policy(self, params: Params) -> None:
        policy_arn = params["PolicyArn"]
        self._check_policy_arn(policy_arn)

        def change(doc: Document) -> None:
            if policy_arn not in doc["Attached"]:
                doc["Attached"].append(policy_arn)
        self._change_role(params["RoleName"], change)

    def detach_role_policy(self, params: Params) -> None:
        name, policy_arn = params["RoleName"], params["PolicyArn"]
        if policy_arn not in self._role(name)["Attached"]:
            raise NoSuchEntity(f"Policy {policy_arn} was not found.")
        self.entities.update(ROLE, name, lambda d: d["Attached"].remove(policy_arn))

    def list_attached_role_policies(self, params: Params) -> Params:
        prefix = params.get("PathPrefix", "/")
        attached = [{"PolicyName": a.rpartition("/")[2], "PolicyArn": a}
                    for a in self._role(params["RoleName"])["Attached"]
                    if a.split(":", 5)[5].removeprefix("policy").startswith(prefix)]
        page, more = _page(attached, params)
        return {"AttachedPolicies": page, **more}

    # -- simulation --------------------------------------------------------------------------
    def simulate_principal_policy(self, params: Params) -> Params:
        """What IAM's policy simulator answers for a role of the local IAM: each action on
        each resource (`*` by default), decided by the role's recorded policies (plus any
        PolicyInputList) and its permissions boundary."""
        source = params["PolicySourceArn"]
        if ":role/" not in source:
            raise InvalidInput(f"PolicySourceArn {source}: the local IAM simulates the policies "
                               "of roles (arn:aws:iam::000000000000:role/NAME) only.")
        found = self.find_role(source)
        if found is None:
            raise NoSuchEntity(f"The role with name {source.rpartition('/')[2]} cannot be "
                               "found.")
        doc = self._role(found["RoleName"])
        identity = self._identity_statements(doc, params.get("PolicyInputList") or [])
        boundary = self._boundary_statements(doc, params)
        context = {e["ContextKeyName"]: (e.get("ContextKeyValues") or [""])[0]
                   for e in params.get("ContextEntries") or []}
        try:
            results = [self._result(identity, boundary, Call(action, resource, context))
                       for action in params["ActionNames"]
                       for resource in params.get("ResourceArns") or ["*"]]
        except UnsupportedPolicy as exc:
            raise InvalidInput(f"The local IAM cannot evaluate the policies of role "
                               f"{found['RoleName']}: {exc}.") from None
        page, more = _page(results, params)
        return {"EvaluationResults": page, **more}

    def _identity_statements(self, doc: Document, extra: list[str]) -> list[Statement]:
        statements = [s for name, text in doc["Inline"].items()
                      for s in statements_of(f"role:{name}", _document(text))]
        for policy_arn in doc["Attached"]:
            statements += statements_of(f"user-managed:{policy_arn.rpartition('/')[2]}",
                                        self._known_document(doc, policy_arn))
        for i, text in enumerate(extra, 1):
            statements += statements_of(f"none:PolicyInputList.{i}", _document(text))
        return statements

    def _boundary_statements(self, doc: Document, params: Params) -> list[Statement] | None:
        given = params.get("PermissionsBoundaryPolicyInputList")
        if given:
            return [s for i, text in enumerate(given, 1) for s in statements_of(
                f"none:PermissionsBoundaryPolicyInputList.{i}", _document(text))]
        boundary = doc["Role"].get("PermissionsBoundary")
        if boundary is None:
            return None
        policy_arn = boundary["PermissionsBoundaryArn"]
        return statements_of(f"user-managed:{policy_arn.rpartition('/')[2]}",
                             self._known_document(doc, policy_arn))

    def _known_document(self, doc: Document, policy_arn: str) -> dict[str, Any]:
        policy = self.entities.find(POLICY, policy_arn)
        if policy is None:
            raise InvalidInput(
                f"Role {doc['Role']['RoleName']} has the managed policy {policy_arn}, whose "
                "document the local IAM does not hold (an AWS managed policy, or one of a "
                "stack not deployed locally), so its decision cannot be simulated. Create the "
                "policy locally (CreatePolicy) or give its statements inline.")
        return _document(policy["Document"])

    @staticmethod
    def _result(identity: list[Statement], boundary: list[Statement] | None,
                call: Call) -> Params:
        verdict, matched = evaluate(identity, call)
        result: Params = {"EvalActionName": call.action, "EvalResourceName": call.resource,
                          "MissingContextValues": _missing_context(identity, call)}
        if verdict == ALLOW and boundary is not None:
            bounded, boundary_matched = evaluate(boundary, call)
            result["PermissionsBoundaryDecisionDetail"] = {
                "AllowedByPermissionsBoundary": bounded == ALLOW}
            if bounded != ALLOW:
                verdict, matched = bounded, boundary_matched
        result["EvalDecision"] = DECISIONS.get(verdict, "implicitDeny")
        result["MatchedStatements"] = [
            {"SourcePolicyId": s.where.split(":", 1)[1].rpartition("/")[0],
             "SourcePolicyType": s.where.split(":", 1)[0]} for s in matched]
        return result


def _missing_context(statements: list[Statement], call: Call) -> list[str]:
    """Condition keys of the statements naming this action that the request context lacks."""
    keys = {k.lower() for k in call.context}
    missing = []
    for statement in statements:
        body = statement.body
        if "Action" not in body or not any(
                matches(a, call.action, True) for a in as_list(body["Action"])):
            continue
        for conditions in body.get("Condition", {}).values():
            missing += [k for k in conditions if k.lower() not in keys and k not in missing]
    return missing
