"""The CloudFormation API's behaviour over the engine (stacks.py): what each operation checks
before anything starts (templates, parameters, capabilities, stack states: AWS's own error
texts), stack operations run asynchronously as in AWS, change sets, and the read side
(stacks, events, resources, templates, exports).

Asynchrony: CreateStack, UpdateStack, DeleteStack and ExecuteChangeSet record the new status and
answer at once; the engine then runs the operation in a background thread of the local AWS,
one operation at a time per stack (a DeleteStack that arrives while another runs is queued
after it, as CloudFormation does; an update is refused). A change set is computed before
CreateChangeSet answers (locally that takes a fraction of a second), so it is CREATE_COMPLETE
or FAILED by the first DescribeChangeSet. After a restart, an operation that was running ends
in the matching *_FAILED state with a reason (Stacks.settle_interrupted).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sagepipe.cloudformation import template as tpl
from sagepipe.cloudformation.exceptions import (
    AlreadyExistsException,
    ChangeSetNotFound,
    InsufficientCapabilitiesException,
    InvalidChangeSetStatus,
    ValidationError,
)
from sagepipe.cloudformation.providers import Context, ResourceFailed, provider_for
from sagepipe.cloudformation.stacks import UPDATABLE_STATES, StackError, Stacks, resources_of
from sagepipe.config import Settings, arn
from sagepipe.documents import Document, Documents
from sagepipe.errors import AWSError, NotEmulated
from sagepipe.s3.object_store import ObjectStore
from sagepipe.store import Store

log = logging.getLogger(__name__)

Operation = Callable[[Stacks], Any]
PAGE = 100
STACK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")
MAX_TEMPLATE_BODY = 51_200
MAX_TEMPLATE_URL_OBJECT = 1_000_000
NO_CHANGES = ("The submitted information didn't contain changes. Submit different information "
              "to create a change set.")
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def paginate(items: list[Any], token: str | None, size: int = PAGE) -> tuple[list[Any],
                                                                               str | None]:
    """One page of `items` after `token` (an offset handed out as NextToken)."""
    if token is not None and not token.isdigit():
        raise ValidationError("Invalid NextToken: pass the NextToken of the previous call.")
    start = int(token or 0)
    return items[start:start + size], str(start + size) if start + size < len(items) else None


class CloudFormation:
    def __init__(self, store: Store, settings: Settings, files: ObjectStore) -> None:
        self.store = store
        self.settings = settings
        self.files = files
        self._clients: dict[str, Any] = {}  # boto3 clients are thread-safe: one per service
        self.ctx = self._context()
        self.stacks = Stacks(store, self.ctx)  # the read side, and checks in request threads
        self.change_sets = Documents(store, "cloudformation_change_sets",
                                     not_found=ChangeSetNotFound,
                                     in_use=AlreadyExistsException)
        self._lock = threading.Lock()
        self._queues: dict[str, list[tuple[Operation, str | None]]] = {}

    def start(self) -> None:
        """After a (re)start: settle what the previous run left in progress."""
        for name in self.stacks.settle_interrupted():
            log.warning("stack %s was interrupted by a restart of the local AWS", name)
        for change_set in self.change_sets.all("change-set"):
            if change_set["ExecutionStatus"] == "EXECUTE_IN_PROGRESS":
                self._set_change_set(change_set, ExecutionStatus="EXECUTE_FAILED")

    # -- running operations ----------------------------------------------------------------
    def _context(self) -> Context:
        """A provider context per operation (its notes are its own), sharing the clients."""
        return Context(self.settings, log.info, self._clients)

    def busy(self, stack_id: str) -> bool:
        return stack_id in self._queues

    def _start(self, stack_id: str, operation: Operation, token: str | None) -> None:
        """Queue `operation` for the stack (call with the lock held); a worker thread runs the
        stack's operations one after the other."""
        queue = self._queues.setdefault(stack_id, [])
        queue.append((operation, token))
        if len(queue) == 1:
            threading.Thread(target=self._work, args=(stack_id,), daemon=True,
                             name=f"cloudformation-{stack_id.split('/')[1]}").start()

    def _work(self, stack_id: str) -> None:
        while True:
            with self._lock:
                operation, token = self._queues[stack_id][0]
            engine = Stacks(self.store, self._context(), token)
            try:
                operation(engine)
            except StackError as exc:
                log.info("%s", exc)  # the stack's status and events say why
            except Exception:
                log.exception("internal error of the local CloudFormation on %s", stack_id)
                doc = engine.find(stack_id)
                if doc is not None and doc["Status"].endswith("_IN_PROGRESS"):
                    engine.settle(doc, "The local CloudFormation hit an internal error; see "
                                  "the gateway log (`sagepipe logs gateway`).")
            with self._lock:
                queue = self._queues[stack_id]
                queue.pop(0)
                if not queue:
                    del self._queues[stack_id]
                    return

    # -- stacks ------------------------------------------------------------------------------
    def create_stack(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check_stack_name(params["StackName"])
        if params.get("OnFailure") and params.get("DisableRollback") is not None:
            raise ValidationError("You can specify either DisableRollback or OnFailure, but "
                                  "not both.")
        text, body = self._template(params)
        given = self._parameters(params.get("Parameters"), None,
                                 "Cannot specify UsePreviousValue on Parameters when creating "
                                 "a stack")
        self._check(body, given, params.get("Capabilities") or [], name, change_set=False)
        on_failure = params.get("OnFailure") or (
            "DO_NOTHING" if params.get("DisableRollback") else "ROLLBACK")
        with self._lock:
            if self.stacks.describe(name) is not None:
                raise AlreadyExistsException(f"Stack [{name}] already exists")
            doc = self.stacks.new_stack(name, Status="CREATE_IN_PROGRESS",
                                        **stack_fields(params, text, body),
                                        DisableRollback=on_failure == "DO_NOTHING")
            self._start(doc["StackId"], lambda engine: engine.create(
                doc, body, given, on_failure, params.get("RetainExceptOnCreate", False)),
                params.get("ClientRequestToken"))
        return {"StackId": doc["StackId"]}

    def update_stack(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._live(params["StackName"])
        text, body = self._template(params, doc)
        given = self._parameters(params.get("Parameters"), doc["Parameters"])
        self._check(body, given, params.get("Capabilities") or [], doc["StackName"],
                    change_set=False)
        fields = stack_fields(params, text, body, doc)
        if unchanged(doc, body, given, fields):
            raise ValidationError("No updates are to be performed.")
        with self._lock:
            doc = self._live(params["StackName"])
            self._check_updatable(doc)
            doc.update(fields, Status="UPDATE_IN_PROGRESS")
            self.stacks.save(doc)
            self._start(doc["StackId"], lambda engine: engine.update(
                doc, body, given, bool(params.get("DisableRollback")),
                params.get("RetainExceptOnCreate", False)), params.get("ClientRequestToken"))
        return {"StackId": doc["StackId"]}

    def delete_stack(self, params: dict[str, Any]) -> None:
        """Idempotent, as in AWS: an unknown or deleted stack is not an error. A deletion that
        fails is not the call's error either: the stack is left DELETE_FAILED with the reason."""
        doc = self.stacks.find(params["StackName"])
        if doc is None or "DeletionTime" in doc:
            return
        retain = params.get("RetainResources") or []
        if retain and doc["Status"] != "DELETE_FAILED":
            raise ValidationError(f"Invalid operation on stack [{doc['StackId']}]. "
                                  "RetainResources can only be specified when the stack is in "
                                  "the DELETE_FAILED state")
        if doc.get("EnableTerminationProtection"):
            raise ValidationError(f"Stack [{doc['StackName']}] cannot be deleted while "
                                  "TerminationProtection is enabled")
        stack_id = doc["StackId"]

        def delete(engine: Stacks) -> None:
            current = engine.find(stack_id)
            if current is not None and "DeletionTime" not in current:
                engine.delete(current, retain)
                for change_set in self._change_sets_of(current):  # they go with their stack
                    self.change_sets.delete("change-set", change_set["ChangeSetId"])
        with self._lock:
            if self.busy(stack_id):
                if len(self._queues[stack_id]) == 1:  # at most one delete waits
                    self._start(stack_id, delete, params.get("ClientRequestToken"))
                return
            if doc["Status"] == "DELETE_IN_PROGRESS":
                return  # another process (the pipeline's executor) is deleting it
            doc["Status"] = "DELETE_IN_PROGRESS"
            self.stacks.save(doc)
            self._start(stack_id, delete, params.get("ClientRequestToken"))

    def update_termination_protection(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            doc = self._live(params["StackName"])
            doc["EnableTerminationProtection"] = params["EnableTerminationProtection"]
            self.stacks.save(doc)
        return {"StackId": doc["StackId"]}

    def describe_stacks(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("StackName"):
            return {"Stacks": [stack_summary(self._any(params["StackName"]))]}
        docs = sorted(self.stacks.live(), key=lambda d: d["CreationTime"], reverse=True)
        items, token = paginate(docs, params.get("NextToken"))
        return {"Stacks": [stack_summary(d) for d in items], "NextToken": token}

    def list_stacks(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(params.get("StackStatusFilter") or [])
        docs = [d for d in self.stacks.live() + self.stacks.deleted()
                if (not wanted or status_of(d) in wanted)]
        docs.sort(key=lambda d: d["CreationTime"], reverse=True)
        items, token = paginate(docs, params.get("NextToken"))
        return {"StackSummaries": [{
            "StackId": d["StackId"], "StackName": d["StackName"],
            "TemplateDescription": d.get("Description"), "CreationTime": d["CreationTime"],
            "LastUpdatedTime": d["LastUpdatedTime"], "DeletionTime": d.get("DeletionTime"),
            "StackStatus": status_of(d), "StackStatusReason": d.get("StatusReason") or None,
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"}} for d in items],
            "NextToken": token}

    def describe_stack_events(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._any(params["StackName"])
        items, token = paginate(self.stacks.events(doc["StackId"]), params.get("NextToken"))
        return {"StackEvents": items, "NextToken": token}

    # -- resources ---------------------------------------------------------------------------
    def describe_stack_resources(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("StackName"):
            doc = self._any(params["StackName"])
        elif params.get("PhysicalResourceId"):
            physical = params["PhysicalResourceId"]
            owners = [d for d in self.stacks.live() if any(
                self._physical(r) == physical for r in resources_of(d).values())]
            if not owners:
                raise ValidationError(f"Stack for {physical} does not exist")
            doc = owners[0]
        else:
            raise ValidationError("Either StackName or PhysicalResourceId must be specified.")
        wanted = params.get("LogicalResourceId")
        return {"StackResources": [
            {"StackName": doc["StackName"], "StackId": doc["StackId"],
             "Timestamp": row["LastUpdatedTimestamp"], **row}
            for row in self._resource_rows(doc) if wanted in (None, row["LogicalResourceId"])]}

    def describe_stack_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._any(params["StackName"])
        logical = params["LogicalResourceId"]
        row: dict[str, Any] | None = next(
            (r for r in self._resource_rows(doc) if r["LogicalResourceId"] == logical), None)
        if row is None:
            raise ValidationError(f"Resource {logical} does not exist for stack "
                                  f"{doc['StackName']}")
        metadata = (tpl.parse(doc["TemplateBody"])["Resources"].get(logical) or {}).get(
            "Metadata") if doc.get("TemplateBody") else None
        return {"StackResourceDetail": {"StackName": doc["StackName"],
                                        "StackId": doc["StackId"], **row,
                                        "Metadata": to_json(metadata) if metadata else None}}

    def list_stack_resources(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._any(params["StackName"])
        items, token = paginate(self._resource_rows(doc), params.get("NextToken"))
        return {"StackResourceSummaries": items, "NextToken": token}

    def _resource_rows(self, doc: Document) -> list[dict[str, Any]]:
        return [{"LogicalResourceId": logical, "PhysicalResourceId": self._physical(item),
                 "ResourceType": item.type, "LastUpdatedTimestamp": item.updated or
                 doc["LastUpdatedTime"], "ResourceStatus": item.status,
                 "ResourceStatusReason": item.reason or None,
                 "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}}
                for logical, item in resources_of(doc).items()]

    def _physical(self, item: Any) -> str:
        return provider_for(item.type).ref(self.ctx, item.name)

    # -- templates ---------------------------------------------------------------------------
    def get_template(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("ChangeSetName"):
            text = self._change_set(params["ChangeSetName"], params.get("StackName"))[
                "TemplateBody"]
        elif params.get("StackName"):
            text = self._any(params["StackName"]).get("TemplateBody", "")
        else:
            raise ValidationError("StackName or ChangeSetName must be specified.")
        return {"TemplateBody": text, "StagesAvailable": ["Original", "Processed"]}

    def get_template_summary(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("StackSetName"):
            raise NotEmulated("sagepipe's local CloudFormation does not emulate stack sets.")
        if params.get("StackName") and not (params.get("TemplateBody")
                                            or params.get("TemplateURL")):
            body = tpl.parse(self._any(params["StackName"]).get("TemplateBody") or "{}")
        else:
            _text, body = self._template(params)
        capabilities, reason = tpl.required_capabilities(body)
        transforms = body.get("Transform")
        return {"Parameters": tpl.declared_parameters(body),
                "Description": body.get("Description"), "Capabilities": capabilities,
                "CapabilitiesReason": reason or None,
                "ResourceTypes": sorted({r["Type"] for r in body["Resources"].values()}),
                "Version": str(body.get("AWSTemplateFormatVersion", "2010-09-09")),
                "Metadata": to_json(body["Metadata"]) if body.get("Metadata") else None,
                "DeclaredTransforms": ([transforms] if isinstance(transforms, str)
                                       else transforms) or None}

    def validate_template(self, params: dict[str, Any]) -> dict[str, Any]:
        _text, body = self._template(params)
        capabilities, reason = tpl.required_capabilities(body)
        transforms = body.get("Transform")
        return {"Parameters": [{key: p[key] for key in ("ParameterKey", "DefaultValue",
                                                         "NoEcho", "Description") if key in p}
                               for p in tpl.declared_parameters(body)],
                "Description": body.get("Description"), "Capabilities": capabilities,
                "CapabilitiesReason": reason or None,
                "DeclaredTransforms": ([transforms] if isinstance(transforms, str)
                                       else transforms) or None}

    # -- exports -----------------------------------------------------------------------------
    def list_exports(self, params: dict[str, Any]) -> dict[str, Any]:
        items, token = paginate(self.stacks.exports(), params.get("NextToken"))
        return {"Exports": items, "NextToken": token}

    def list_imports(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ExportName"]
        users = self.stacks.importers(name)
        if not users:
            raise ValidationError(f"Export '{name}' is not imported by any stack.")
        items, token = paginate(users, params.get("NextToken"))
        return {"Imports": items, "NextToken": token}

    # -- change sets -------------------------------------------------------------------------
    def create_change_set(self, params: dict[str, Any]) -> dict[str, Any]:
        kind = params.get("ChangeSetType") or "UPDATE"
        if kind == "IMPORT":
            raise NotEmulated("sagepipe's local CloudFormation does not import existing "
                              "resources (ChangeSetType IMPORT).")
        cs_name, name = params["ChangeSetName"], params["StackName"]
        doc = self.stacks.find(name)
        if doc is not None and "DeletionTime" in doc:
            doc = None
        if kind == "CREATE":
            if doc is not None and doc["Status"] != "REVIEW_IN_PROGRESS":
                raise ValidationError(f"Stack [{name}] already exists and cannot be created "
                                      f"again with the changeSet [{cs_name}].")
            check_stack_name(name)
        elif doc is None or doc["Status"] == "REVIEW_IN_PROGRESS":
            raise ValidationError(f"Stack [{name}] does not exist")
        text, body = self._template(params, doc if kind == "UPDATE" else None)
        previous = doc["Parameters"] if doc is not None and kind == "UPDATE" else None
        given = self._parameters(params.get("Parameters"), previous, "Cannot specify "
                                 "UsePreviousValue on Parameters when ChangeSetType is CREATE")
        self._check(body, given, params.get("Capabilities") or [], name, change_set=True)
        with self._lock:
            if doc is None:
                doc = self.stacks.new_stack(name, Status="REVIEW_IN_PROGRESS",
                                            **stack_fields(params, text, body))
                self.stacks.set_status(doc, "REVIEW_IN_PROGRESS", "User Initiated")
            if any(c["ChangeSetName"] == cs_name for c in self._change_sets_of(doc)):
                raise AlreadyExistsException(f"ChangeSet {cs_name} already exists and cannot "
                                             "be created again")
        fields = stack_fields(params, text, body, doc if kind == "UPDATE" else None)
        status, reason, changes = "CREATE_COMPLETE", None, []
        if kind == "UPDATE" and unchanged(doc, body, given, fields):
            status, reason = "FAILED", NO_CHANGES
        else:
            try:
                changes = self.stacks.changes(doc, body, given)
            except (tpl.TemplateError, ResourceFailed) as exc:
                status, reason = "FAILED", str(exc)
        change_set_id = arn("cloudformation", f"changeSet/{cs_name}/{uuid.uuid4()}",
                            self.settings.region)
        self.change_sets.put("change-set", change_set_id, {
            "ChangeSetName": cs_name, "ChangeSetId": change_set_id, "StackId": doc["StackId"],
            "StackName": doc["StackName"], "Description": params.get("Description"),
            "Parameters": [{"ParameterKey": k, "ParameterValue": v}
                           for k, v in tpl.parameter_values(body, given).items()],
            "CreationTime": time.time(), "ExecutionStatus": "AVAILABLE" if status ==
            "CREATE_COMPLETE" else "UNAVAILABLE", "Status": status, "StatusReason": reason,
            "NotificationARNs": fields.get("NotificationARNs") or [],
            "Capabilities": fields.get("Capabilities") or [], "Tags": fields.get("Tags") or [],
            "Changes": changes, "IncludeNestedStacks": False,
            "ChangeSetType": kind, "TemplateBody": text, "Given": given,
            "StackFields": fields})
        return {"Id": change_set_id, "StackId": doc["StackId"]}

    def describe_change_set(self, params: dict[str, Any]) -> dict[str, Any]:
        change_set = self._change_set(params["ChangeSetName"], params.get("StackName"))
        items, token = paginate(change_set["Changes"], params.get("NextToken"))
        return {**change_set, "Changes": items, "NextToken": token}

    def list_change_sets(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._any(params["StackName"])
        keys = ("StackId", "StackName", "ChangeSetId", "ChangeSetName", "ExecutionStatus",
                "Status", "StatusReason", "CreationTime", "Description", "IncludeNestedStacks")
        items, token = paginate(self._change_sets_of(doc), params.get("NextToken"))
        return {"Summaries": [{k: c.get(k) for k in keys} for c in items], "NextToken": token}

    def delete_change_set(self, params: dict[str, Any]) -> None:
        change_set = self._change_set(params["ChangeSetName"], params.get("StackName"))
        if change_set["ExecutionStatus"] == "EXECUTE_IN_PROGRESS":
            raise InvalidChangeSetStatus(f"Cannot delete ChangeSet "
                                         f"[{change_set['ChangeSetId']}] in status "
                                         "EXECUTE_IN_PROGRESS")
        self.change_sets.delete("change-set", change_set["ChangeSetId"])

    def execute_change_set(self, params: dict[str, Any]) -> None:
        change_set = self._change_set(params["ChangeSetName"], params.get("StackName"))
        if change_set["ExecutionStatus"] != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set['ChangeSetId']}] cannot be executed in its current "
                f"execution status of [{change_set['ExecutionStatus']}]")
        body = tpl.parse(change_set["TemplateBody"])
        given, create = change_set["Given"], change_set["ChangeSetType"] == "CREATE"
        disable_rollback = bool(params.get("DisableRollback"))
        retain_except_on_create = bool(params.get("RetainExceptOnCreate"))
        with self._lock:
            doc = self._any(change_set["StackId"])
            if create and doc["Status"] != "REVIEW_IN_PROGRESS":
                raise ValidationError(f"Stack:{doc['StackId']} is in {doc['Status']} state and "
                                      "can not be updated.")
            if not create:
                self._check_updatable(doc)
            doc.update(change_set["StackFields"], ChangeSetId=change_set["ChangeSetId"],
                       Status="CREATE_IN_PROGRESS" if create else "UPDATE_IN_PROGRESS",
                       DisableRollback=disable_rollback)
            self.stacks.save(doc)
            self._set_change_set(change_set, ExecutionStatus="EXECUTE_IN_PROGRESS")

            def execute(engine: Stacks) -> None:
                try:
                    if create:
                        engine.create(doc, body, given,
                                      "DO_NOTHING" if disable_rollback else "ROLLBACK",
                                      retain_except_on_create)
                    else:
                        engine.update(doc, body, given, disable_rollback,
                                      retain_except_on_create)
                except StackError:
                    self._set_change_set(change_set, ExecutionStatus="EXECUTE_FAILED")
                    raise
                self._set_change_set(change_set, ExecutionStatus="EXECUTE_COMPLETE")
                for other in self._change_sets_of(doc):  # as AWS, after a success
                    if other["ChangeSetId"] != change_set["ChangeSetId"]:
                        self.change_sets.delete("change-set", other["ChangeSetId"])
            self._start(doc["StackId"], execute, params.get("ClientRequestToken"))

    def _change_set(self, name: str, stack: str | None) -> Document:
        if name.startswith("arn:"):
            found = self.change_sets.find("change-set", name)
        else:
            if not stack:
                raise ValidationError("StackName must be specified if ChangeSetName is not "
                                      "specified as an ARN.")
            doc = self.stacks.find(stack)
            found = next((c for c in self._change_sets_of(doc) if c["ChangeSetName"] == name),
                         None) if doc else None
        if found is None:
            raise ChangeSetNotFound(f"ChangeSet [{name}] does not exist")
        return found

    def _change_sets_of(self, doc: Document) -> list[Document]:
        return sorted((c for c in self.change_sets.all("change-set")
                       if c["StackId"] == doc["StackId"]), key=lambda c: c["CreationTime"])

    def _set_change_set(self, change_set: Document, **fields: Any) -> None:
        change_set.update(fields)
        if self.change_sets.find("change-set", change_set["ChangeSetId"]) is not None:
            self.change_sets.put("change-set", change_set["ChangeSetId"], change_set)

    # -- checks and look-ups -----------------------------------------------------------------
    def _live(self, name: str) -> Document:
        doc = self.stacks.find(name)
        if doc is None or "DeletionTime" in doc:
            raise ValidationError(f"Stack [{name}] does not exist")
        return doc

    def _any(self, name: str) -> Document:
        """A live stack by name or id, or a deleted one by id."""
        doc = self.stacks.find(name)
        if doc is None:
            raise ValidationError(f"Stack with id {name} does not exist")
        return doc

    def _check_updatable(self, doc: Document) -> None:
        """AWS's rule: the stack's status says whether it takes an update. Its worker may still
        be finishing the operation that set that status (the update then queues behind it);
        an operation queued behind that one (a delete) refuses it."""
        if doc["Status"] not in UPDATABLE_STATES or len(self._queues.get(doc["StackId"],
                                                                         ())) > 1:
            raise ValidationError(f"Stack:{doc['StackId']} is in {doc['Status']} state and can "
                                  "not be updated.")

    def _template(self, params: dict[str, Any],
                  doc: Document | None = None) -> tuple[str, dict[str, Any]]:
        """The template an operation names (TemplateBody, TemplateURL in the local S3, or
        UsePreviousTemplate), parsed and checked."""
        given = [key for key in ("TemplateBody", "TemplateURL", "UsePreviousTemplate")
                 if params.get(key)]
        if not given:
            raise ValidationError("Either Template URL or Template Body must be specified.")
        if len(given) > 1:
            raise ValidationError(f"Specify exactly one of {', '.join(given)}.")
        if given[0] == "UsePreviousTemplate":
            if doc is None:
                raise ValidationError("UsePreviousTemplate is only valid for an existing stack.")
            text = doc.get("TemplateBody") or ""
        elif given[0] == "TemplateURL":
            text = self._download(params["TemplateURL"])
        else:
            text = params["TemplateBody"]
            if len(text.encode()) > MAX_TEMPLATE_BODY:
                raise ValidationError("1 validation error detected: Value at 'templateBody' "
                                      "failed to satisfy constraint: Member must have length "
                                      f"less than or equal to {MAX_TEMPLATE_BODY}")
        try:
            return text, tpl.parse(text)
        except tpl.TemplateError as exc:
            raise ValidationError(str(exc)) from None

    def _download(self, url: str) -> str:
        """A TemplateURL's object, read from the local S3: an S3 URL as AWS accepts them
        (virtual-hosted or path style), or the local endpoint's path-style URL."""
        parts = urlsplit(url)
        host, path = parts.hostname or "", unquote(parts.path.lstrip("/"))
        path_style = (parts.scheme == "http" and host in LOOPBACK) or (
            parts.scheme == "https" and re.match(r"^s3([.-][a-z0-9-]+)?\.amazonaws\.com$", host))
        if path_style:
            bucket, _, key = path.partition("/")
        elif parts.scheme == "https" and (match := re.match(
                r"^(.+)\.s3([.-][a-z0-9-]+)?\.amazonaws\.com$", host)):
            bucket, key = match.group(1), path
        else:
            raise ValidationError("TemplateURL must be a supported URL.")
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "template"
            try:
                self.files.download_object(f"s3://{bucket}/{key}", target)
            except AWSError:
                raise ValidationError("TemplateURL must reference a valid S3 object to which "
                                      "you have access.") from None
            if target.stat().st_size > MAX_TEMPLATE_URL_OBJECT:
                raise ValidationError(f"Template may not exceed {MAX_TEMPLATE_URL_OBJECT} bytes "
                                      "in size.")
            try:
                return target.read_text()
            except UnicodeDecodeError:
                raise ValidationError("Template format error: unsupported structure.") from None

    @staticmethod
    def _parameters(listed: list[dict[str, Any]] | None, previous: dict[str, str] | None,
                    on_create: str = "") -> dict[str, str]:
        """The Parameters list of a call as a dict, UsePreviousValue resolved."""
        given = {}
        for parameter in listed or []:
            key = parameter.get("ParameterKey")
            if not key:
                raise ValidationError("ParameterKey is required for each parameter.")
            if parameter.get("UsePreviousValue"):
                if previous is None:
                    raise ValidationError(on_create)
                if key not in previous:
                    raise ValidationError("Cannot specify usePreviousValue as true for a "
                                          "parameter key not in the previous template")
                given[key] = previous[key]
            elif parameter.get("ParameterValue") is not None:
                given[key] = parameter["ParameterValue"]
        return given

    def _check(self, body: dict[str, Any], given: dict[str, str], capabilities: list[str],
               stack_name: str, change_set: bool) -> None:
        """What CloudFormation refuses before it starts: parameters, capabilities, and a
        template that does not render (a missing import, a bad intrinsic)."""
        try:
            tpl.parameter_values(body, given)
        except tpl.TemplateError as exc:
            raise ValidationError(str(exc)) from None
        missing = tpl.missing_capabilities(body, capabilities, change_set)
        if missing:
            raise InsufficientCapabilitiesException(
                f"Requires capabilities : [{', '.join(missing)}]")
        try:
            tpl.render(body, given, {}, stack_name,
                       imports=tpl.Imports({e["Name"]: e["Value"]
                                            for e in self.stacks.exports()}))
        except tpl.TemplateError as exc:
            raise ValidationError(str(exc)) from None


# -- documents ---------------------------------------------------------------------------------
def check_stack_name(name: str) -> str:
    if len(name) > 128 or not STACK_NAME.match(name):
        raise ValidationError(f"1 validation error detected: Value '{name}' at 'stackName' "
                              "failed to satisfy constraint: Member must satisfy regular "
                              "expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
    return name


def stack_fields(params: dict[str, Any], text: str, body: dict[str, Any],
                 doc: Document | None = None) -> dict[str, Any]:
    """What a create/update request sets on the stack besides its resources; an update keeps
    the previous Tags, NotificationARNs and RoleARN when the request omits them, as AWS."""
    previous = doc or {}
    return {"TemplateBody": text, "Description": body.get("Description"),
            "Capabilities": params.get("Capabilities") or [],
            "Tags": params["Tags"] if "Tags" in params else previous.get("Tags", []),
            "RoleARN": params.get("RoleARN") or previous.get("RoleARN"),
            "NotificationARNs": params["NotificationARNs"] if "NotificationARNs" in params
            else previous.get("NotificationARNs", []),
            "TimeoutInMinutes": params.get("TimeoutInMinutes",
                                           previous.get("TimeoutInMinutes")),
            "EnableTerminationProtection": params.get(
                "EnableTerminationProtection", previous.get("EnableTerminationProtection",
                                                            False))}


def unchanged(doc: Document, body: dict[str, Any], given: dict[str, str],
              fields: dict[str, Any]) -> bool:
    """Whether an update would change nothing: same template, parameter values and stack
    settings ("No updates are to be performed.")."""
    try:
        same_template = tpl.parse(doc.get("TemplateBody") or "{}") == body
    except tpl.TemplateError:
        same_template = False
    return (same_template and doc["Parameters"] == tpl.parameter_values(body, given)
            and all(doc.get(key) == fields[key] for key in ("Tags", "NotificationARNs",
                                                            "RoleARN")))


def status_of(doc: Document) -> str:
    return "DELETE_COMPLETE" if "DeletionTime" in doc else doc["Status"]


def stack_summary(doc: Document) -> dict[str, Any]:
    """A `Stack` of DescribeStacks' output from a stored stack."""
    hidden = set(doc.get("NoEcho", []))
    return {
        "StackId": doc["StackId"], "StackName": doc["StackName"],
        "ChangeSetId": doc.get("ChangeSetId"), "Description": doc.get("Description"),
        "Parameters": [{"ParameterKey": k, "ParameterValue": "****" if k in hidden else v}
                       for k, v in doc.get("Parameters", {}).items()],
        "CreationTime": doc["CreationTime"], "LastUpdatedTime": doc["LastUpdatedTime"],
        "DeletionTime": doc.get("DeletionTime"), "StackStatus": status_of(doc),
        "StackStatusReason": doc.get("StatusReason") or None,
        "DisableRollback": doc.get("DisableRollback", False),
        "NotificationARNs": doc.get("NotificationARNs") or [],
        "TimeoutInMinutes": doc.get("TimeoutInMinutes"),
        "Capabilities": doc.get("Capabilities") or [],
        "Outputs": [{"OutputKey": k, "OutputValue": v,
                     "Description": doc.get("OutputInfo", {}).get(k, {}).get("Description"),
                     "ExportName": doc.get("OutputInfo", {}).get(k, {}).get("ExportName")}
                    for k, v in doc.get("Outputs", {}).items()],
        "RoleARN": doc.get("RoleARN"), "Tags": doc.get("Tags") or [],
        "EnableTerminationProtection": doc.get("EnableTerminationProtection", False),
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
    }


def to_json(value: Any) -> str:
    return json.dumps(value, default=str)
