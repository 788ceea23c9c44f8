"""The engine: create, update (in place or by replacement), roll back and delete stacks as
CloudFormation does, with each stack's state, its event list (what DescribeStackEvents
answers) and its exports in the local store.

The engine takes a parsed template and parameters and reaches resources only through their
providers (providers/), which reach the local AWS through their Context. Its operations are
synchronous: the CloudFormation API (models.py) runs each in a background thread, one at a
time per stack. A stack document holds, besides what DescribeStacks shows, its resources as
deployed (`Resources`: logical id -> type, physical name, properties, status, policies), the
older physical resources an update replaced and has not yet cleaned up (`Replaced`), and the
template as submitted (`TemplateBody`).

Deletion policies as in CloudFormation: `Retain` keeps the resource whenever the stack would
delete it, `RetainExceptOnCreate` too except when rolling back the creation that made it;
`UpdateReplacePolicy: Retain` keeps the old resource of a replacement. A kept resource's event
is DELETE_SKIPPED.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from botocore.exceptions import ParamValidationError

from sagepipe.cloudformation import template as tpl
from sagepipe.cloudformation.providers import Context, ResourceFailed, provider_for
from sagepipe.cloudformation.providers.base import changed_properties
from sagepipe.store import Store

log = logging.getLogger(__name__)

DDL = """
CREATE TABLE IF NOT EXISTS cloudformation_stacks (
    name TEXT PRIMARY KEY,
    doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS cloudformation_deleted_stacks (
    stack_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    deleted REAL NOT NULL,
    doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS cloudformation_stack_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stack_id TEXT NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS cloudformation_stack_events_by_stack
    ON cloudformation_stack_events(stack_id, seq);
CREATE TABLE IF NOT EXISTS cloudformation_exports (
    name TEXT PRIMARY KEY,
    stack_id TEXT NOT NULL,
    value TEXT NOT NULL
);
"""
STACK_TYPE = "AWS::CloudFormation::Stack"
RECORDED_ONLY = "not emulated locally, recorded only"
# States from which a stack cannot be updated (AWS: delete it first) or deployed at all.
FAILED_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED",
                 "UPDATE_ROLLBACK_FAILED"}
UPDATABLE_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
                    "UPDATE_FAILED", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
# What an operation that was running when the local AWS stopped ends as.
INTERRUPTED = {"CREATE_IN_PROGRESS": "CREATE_FAILED", "ROLLBACK_IN_PROGRESS": "ROLLBACK_FAILED",
               "DELETE_IN_PROGRESS": "DELETE_FAILED", "UPDATE_IN_PROGRESS": "UPDATE_FAILED",
               "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_COMPLETE",
               "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
               "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_ROLLBACK_COMPLETE"}
BUSY_STATES = set(INTERRUPTED)


class StackError(RuntimeError):
    """An operation failed; the stack's status says how far it got and why."""


@dataclass
class Deployed:
    """One resource as deployed: its physical name, the properties it was created with, its
    status and deletion policies."""

    type: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    reason: str = ""
    updated: float = 0.0
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"
    logical: str = ""  # set on a replaced resource awaiting cleanup

    def copy(self) -> Deployed:
        return Deployed(**json.loads(json.dumps(asdict(self))))


def resources_of(doc: dict[str, Any]) -> dict[str, Deployed]:
    return {k: Deployed(**v) for k, v in doc.get("Resources", {}).items()}


class Stacks:
    def __init__(self, store: Store, context: Context, token: str | None = None) -> None:
        """`token`: the ClientRequestToken of the operation, put on its events."""
        self.store = store
        self.ctx = context
        self.token = token
        store.declare(DDL)

    # -- state ---------------------------------------------------------------------------
    def describe(self, name: str) -> dict[str, Any] | None:
        """The live stack named `name`."""
        row = self.store.one("SELECT doc FROM cloudformation_stacks WHERE name=?", name)
        return None if row is None else orjson.loads(row["doc"])

    def find(self, name_or_id: str) -> dict[str, Any] | None:
        """A live stack by name or StackId, or a deleted one by StackId (as AWS finds them)."""
        if not name_or_id.startswith("arn:"):
            return self.describe(name_or_id)
        parts = name_or_id.split("/")
        live = self.describe(parts[1]) if len(parts) == 3 else None
        if live is not None and live["StackId"] == name_or_id:
            return live
        row = self.store.one("SELECT doc FROM cloudformation_deleted_stacks WHERE stack_id=?",
                             name_or_id)
        return None if row is None else orjson.loads(row["doc"])

    def live(self) -> list[dict[str, Any]]:
        return [orjson.loads(r["doc"]) for r in
                self.store.query("SELECT doc FROM cloudformation_stacks")]

    def deleted(self) -> list[dict[str, Any]]:
        return [orjson.loads(r["doc"]) for r in
                self.store.query("SELECT doc FROM cloudformation_deleted_stacks")]

    def events(self, stack: str) -> list[dict[str, Any]]:
        """The stack's events, newest first (DescribeStackEvents): by name while the stack
        exists, by StackId also after it was deleted."""
        current = self.find(stack)
        stack_id = current["StackId"] if current else stack
        return [orjson.loads(r["doc"]) for r in self.store.query(
            "SELECT doc FROM cloudformation_stack_events WHERE stack_id=? ORDER BY seq DESC",
            stack_id)]

    def exports(self) -> list[dict[str, str]]:
        """Every export: {Name, Value, ExportingStackId}, by name."""
        return [{"Name": r["name"], "Value": r["value"], "ExportingStackId": r["stack_id"]}
                for r in self.store.query("SELECT name, value, stack_id FROM "
                                          "cloudformation_exports ORDER BY name")]

    def importers(self, export: str) -> list[str]:
        """The live stacks that import the export named `export`."""
        return sorted(doc["StackName"] for doc in self.live()
                      if export in doc.get("Imports", []))

    def new_stack(self, name: str, **fields: Any) -> dict[str, Any]:
        """A new stack record (no resources yet) with `fields` (Status, TemplateBody, Tags,
        ...); the caller has checked that no live stack has the name."""
        now = time.time()
        doc: dict[str, Any] = {
            "StackName": name,
            "StackId": self.ctx.arn("cloudformation", f"stack/{name}/{uuid.uuid4()}"),
            "CreationTime": now, "LastUpdatedTime": now, "Parameters": {}, "Outputs": {},
            "OutputInfo": {}, "Order": [], "Resources": {}, "Replaced": [], "Imports": [],
            "Status": "", "StatusReason": "", **fields}
        self.save(doc)
        return doc

    def save(self, doc: dict[str, Any]) -> None:
        doc["LastUpdatedTime"] = time.time()
        with self.store.tx() as db:
            db.execute("INSERT INTO cloudformation_stacks(name, doc) VALUES (?, ?) ON CONFLICT"
                       "(name) DO UPDATE SET doc=excluded.doc",
                       (doc["StackName"], orjson.dumps(doc)))

    def _forget(self, doc: dict[str, Any]) -> None:
        """The stack is deleted: it leaves the live table for the deleted one (DescribeStacks
        by StackId and ListStacks still show it), and its exports go."""
        doc["DeletionTime"] = time.time()
        with self.store.tx() as db:
            db.execute("DELETE FROM cloudformation_stacks WHERE name=?", (doc["StackName"],))
            db.execute("DELETE FROM cloudformation_exports WHERE stack_id=?", (doc["StackId"],))
            db.execute("INSERT OR REPLACE INTO cloudformation_deleted_stacks(stack_id, name, "
                       "deleted, doc) VALUES (?, ?, ?, ?)", (doc["StackId"], doc["StackName"],
                                                             doc["DeletionTime"],
                                                             orjson.dumps(doc)))

    def _event(self, doc: dict[str, Any], status: str, reason: str = "",
               logical: str | None = None, item: Deployed | None = None,
               line: str | None = None) -> None:
        """Record one event (the stack's own when `logical` is None) and log it."""
        physical = doc["StackId"]
        if item is not None:  # a resource has no physical id until its creation starts
            physical = "" if status == "CREATE_IN_PROGRESS" else \
                provider_for(item.type).ref(self.ctx, item.name)
        event = {"StackId": doc["StackId"], "EventId": str(uuid.uuid4()),
                 "StackName": doc["StackName"], "Timestamp": time.time(),
                 "LogicalResourceId": logical or doc["StackName"],
                 "PhysicalResourceId": physical,
                 "ResourceType": item.type if item else STACK_TYPE,
                 "ResourceStatus": status, "ResourceStatusReason": reason or None,
                 "ClientRequestToken": self.token}
        if item is not None and status.endswith("_IN_PROGRESS") and item.props:
            event["ResourceProperties"] = json.dumps(item.props)
        with self.store.tx() as db:
            db.execute("INSERT INTO cloudformation_stack_events(stack_id, doc) VALUES (?, ?)",
                       (doc["StackId"], orjson.dumps(event)))
        if line:
            self.ctx.log(line)
        elif logical is None:
            self.ctx.log(f"stack {doc['StackName']}: {status}"
                         + (f" ({reason})" if reason else ""))

    def set_status(self, doc: dict[str, Any], status: str, reason: str = "") -> None:
        doc["Status"], doc["StatusReason"] = status, reason
        self.save(doc)
        self._event(doc, status, reason)

    def _resource_status(self, doc: dict[str, Any], logical: str, item: Deployed, status: str,
                         reason: str = "", line: str | None = None) -> None:
        item.status, item.reason, item.updated = status, reason, time.time()
        if doc["Resources"].get(logical, {}).get("name") in (item.name, None) or \
                status.startswith(("CREATE", "UPDATE")):
            doc["Resources"][logical] = asdict(item)
        self.save(doc)
        self._event(doc, status, reason, logical, item, line)

    # -- the pipeline's entry point (until it calls the API) -----------------------------
    def deploy(self, name: str, body: dict[str, Any], parameters: dict[str, str],
               replace_on_failure: bool = False) -> dict[str, str]:
        """CREATE_UPDATE (or REPLACE_ON_FAILURE) of the parsed template `body` (template.load),
        synchronously: returns the stack's outputs. Invalid parameters or a template that does
        not render raise TemplateError before anything changes."""
        tpl.render(body, parameters, {}, name, imports=tpl.Imports(
            {e["Name"]: e["Value"] for e in self.exports()}))
        current = self.describe(name)
        if current and current["Status"] in BUSY_STATES:
            raise StackError(f"stack {name} is {current['Status']} and cannot be updated now")
        if current and current["Status"] in FAILED_STATES:
            if not replace_on_failure:
                raise StackError(f"stack {name} is {current['Status']} and cannot be updated; "
                                 "delete it first (REPLACE_ON_FAILURE does this)")
            self.ctx.log(f"stack {name} is {current['Status']}: deleting it before re-creating")
            self.delete(name)
            current = None
        template_body = json.dumps(body, default=str)
        if current is None or current["Status"] == "REVIEW_IN_PROGRESS":
            doc = current or self.new_stack(name)
            doc["TemplateBody"] = template_body
            return self.create(doc, body, parameters)
        current["TemplateBody"] = template_body
        return self.update(current, body, parameters)

    # -- operations ----------------------------------------------------------------------
    def create(self, doc: dict[str, Any], body: dict[str, Any], parameters: dict[str, str],
               on_failure: str = "ROLLBACK",
               retain_except_on_create: bool = False) -> dict[str, str]:
        """Create the resources of a new stack record (new_stack); on a failure, roll back
        (OnFailure ROLLBACK), roll back and delete the stack (DELETE), or leave it
        CREATE_FAILED (DO_NOTHING); `retain_except_on_create`: a rollback deletes even the
        resources whose DeletionPolicy is Retain. Returns the outputs; raises StackError."""
        name = doc["StackName"]
        self.set_status(doc, "CREATE_IN_PROGRESS", "User Initiated")
        logical = ""
        try:
            imports = tpl.Imports(self._export_values(doc))
            rendered, planned = self._plan(doc, body, parameters, {}, imports)
            doc.update(Parameters=tpl.parameter_values(body, parameters),
                       NoEcho=tpl.no_echo(body), Description=body.get("Description"),
                       Order=[k for k in tpl.creation_order(body["Resources"]) if k in planned])
            self._check_exports(doc, rendered)
            for logical in doc["Order"]:
                # Recorded before it is created: a rollback (or a later delete, after a crash)
                # removes it even if its creation fails half-way.
                if self._create_resource(doc, logical, planned[logical]):
                    rendered = self._rerender(doc, body, parameters, planned, imports, logical,
                                              doc["Order"][doc["Order"].index(logical) + 1:],
                                              rendered)
            logical = ""
            self._complete(doc, rendered, planned, imports)
        except (ResourceFailed, tpl.TemplateError) as exc:
            reason = (f"The following resource(s) failed to create: [{logical}]. "
                      if logical else f"{exc}. ")
            self._fail_create(doc, reason, on_failure, retain_except_on_create)
            raise StackError(f"stack {name} failed to create"
                             + ("" if on_failure == "DO_NOTHING" else " and was rolled back")
                             + f": {exc}") from None
        self.set_status(doc, "CREATE_COMPLETE")
        return doc["Outputs"]

    def _fail_create(self, doc: dict[str, Any], reason: str, on_failure: str,
                     retain_except_on_create: bool) -> None:
        if on_failure == "DO_NOTHING":
            self.set_status(doc, "CREATE_FAILED", reason.strip())
            return
        reason += "Rollback requested by user."
        self.set_status(doc, "ROLLBACK_IN_PROGRESS", reason)
        failed = self._remove(doc, resources_of(doc), rollback_of_create=True,
                              retain_except_on_create=retain_except_on_create)
        if failed:
            self.set_status(doc, "ROLLBACK_FAILED", f"The following resource(s) failed to "
                             f"delete: [{', '.join(failed)}]. ")
            return
        doc["Order"] = []
        self.set_status(doc, "ROLLBACK_COMPLETE", reason)
        if on_failure == "DELETE":
            self.set_status(doc, "DELETE_IN_PROGRESS", "OnFailure DELETE")
            self._forget(doc)
            self._event(doc, "DELETE_COMPLETE")

    def update(self, doc: dict[str, Any], body: dict[str, Any], parameters: dict[str, str],
               disable_rollback: bool = False,
               retain_except_on_create: bool = False) -> dict[str, str]:
        """Update a stack to `body`: new resources created, changed ones updated in place or
        replaced, then (cleanup) the replaced and removed ones deleted. On a failure, roll back,
        or with `disable_rollback` stop at UPDATE_FAILED with what was done so far."""
        name = doc["StackName"]
        previous = resources_of(doc)
        self.set_status(doc, "UPDATE_IN_PROGRESS", "User Initiated")
        done: list[tuple[str, Deployed | None, Deployed]] = []  # (logical, old, new)
        logical, verb = "", "update"
        try:
            imports = tpl.Imports(self._export_values(doc))
            rendered, planned = self._plan(doc, body, parameters, previous, imports)
            order = [k for k in tpl.creation_order(body["Resources"]) if k in planned]
            self._check_exports(doc, rendered)
            for logical in order:
                new, old = planned[logical], previous.get(logical)
                if old is not None and old.name == new.name and old.props == new.props:
                    continue
                if old is None or old.name != new.name:
                    verb = "create"
                    done.append((logical, old, new))  # rolled back even if creation fails
                    if old is not None:  # replaced: the old one goes in the cleanup phase,
                        # kept or not by the new template's UpdateReplacePolicy
                        doc["Replaced"].append({**asdict(old), "logical": logical,
                                                "update_replace_policy":
                                                new.update_replace_policy})
                    if self._create_resource(doc, logical, new):
                        rendered = self._rerender(doc, body, parameters, planned, imports,
                                                  logical, order[order.index(logical) + 1:],
                                                  rendered)
                else:
                    verb = "update"
                    self._update_resource(doc, logical, old, new)
                    done.append((logical, old, new))
            logical = ""
            old_order = doc["Order"]
            doc.update(Parameters=tpl.parameter_values(body, parameters), Order=order,
                       NoEcho=tpl.no_echo(body), Description=body.get("Description"))
            doc["Resources"].update({k: asdict(v) for k, v in planned.items()})
            self._complete(doc, rendered, planned, imports)
        except (ResourceFailed, tpl.TemplateError) as exc:
            reason = (f"The following resource(s) failed to {verb}: [{logical}]. "
                      if logical else f"{exc}. ")
            if disable_rollback:
                self.set_status(doc, "UPDATE_FAILED", reason.strip())
                raise StackError(f"stack {name} failed to update: {exc}") from None
            self._roll_back_update(doc, previous, done, reason, retain_except_on_create)
            raise StackError(f"stack {name} failed to update and was rolled back: {exc}"
                             ) from None
        self.set_status(doc, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        removed = {k: v for k, v in previous.items() if k not in planned}
        for key in removed:
            doc["Resources"].pop(key, None)
        self._cleanup(doc, removed, old_order)
        self.set_status(doc, "UPDATE_COMPLETE")
        return doc["Outputs"]

    def _roll_back_update(self, doc: dict[str, Any], previous: dict[str, Deployed],
                          done: list[tuple[str, Deployed | None, Deployed]],
                          reason: str, retain_except_on_create: bool) -> None:
        self.set_status(doc, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
        created: dict[str, Deployed] = {}
        try:
            for logical, old, new in reversed(done):
                if old is not None and old.name == new.name:
                    self._update_resource(doc, logical, new, old)
                else:
                    created[logical] = new
                    if old is not None:
                        doc["Resources"][logical] = asdict(old)
                    else:
                        doc["Resources"].pop(logical, None)
        except ResourceFailed as exc:
            self.set_status(doc, "UPDATE_ROLLBACK_FAILED", str(exc))
            return
        doc["Resources"] = {k: asdict(v) for k, v in previous.items()}
        doc["Replaced"] = [r for r in doc["Replaced"]
                           if r["logical"] not in created or r["name"] != previous.get(
                               r["logical"], Deployed("", "")).name]
        self.set_status(doc, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        for logical, item in created.items():
            self._remove_one(doc, logical, item, retained(item, True, retain_except_on_create),
                             cleanup=True)
        self.set_status(doc, "UPDATE_ROLLBACK_COMPLETE", reason)

    def _cleanup(self, doc: dict[str, Any], removed: dict[str, Deployed],
                 old_order: list[str]) -> None:
        """Delete what an update replaced or removed; a failure here is an event, not the
        update's failure, as in CloudFormation."""
        for entry in list(doc["Replaced"]):
            item = Deployed(**entry)
            self._remove_one(doc, item.logical, item, item.update_replace_policy == "Retain",
                             cleanup=True)
            doc["Replaced"].remove(entry)
        for logical in [k for k in reversed(old_order) if k in removed]:
            item = removed[logical]
            self._remove_one(doc, logical, item, retained(item, False), cleanup=True)
        self.save(doc)

    def delete(self, stack: str | dict[str, Any], retain: Iterable[str] = ()) -> None:
        """Delete a stack (by name, or its document) and its resources but those kept by their
        DeletionPolicy or named in `retain` (allowed by the API after a DELETE_FAILED).
        Raises StackError when a resource cannot be deleted: the stack is DELETE_FAILED."""
        doc = self.describe(stack) if isinstance(stack, str) else stack
        if doc is None:
            self.ctx.log(f"stack {stack} does not exist: nothing to delete")
            return
        name = doc["StackName"]
        self.set_status(doc, "DELETE_IN_PROGRESS", "User Initiated")
        for export in doc.get("OutputInfo", {}).values():
            users = self.importers(export["ExportName"]) if export.get("ExportName") else []
            if users:
                reason = (f"Export {export['ExportName']} cannot be deleted as it is in use by "
                          f"{', '.join(users)}")
                self.set_status(doc, "DELETE_FAILED", reason)
                raise StackError(f"stack {name} failed to delete: {reason}")
        for entry in list(doc.get("Replaced", [])):
            item = Deployed(**entry)
            self._remove_one(doc, item.logical, item, item.update_replace_policy == "Retain")
            doc["Replaced"].remove(entry)
        failed = self._remove(doc, resources_of(doc), retain=set(retain))
        if failed:
            reason = f"The following resource(s) failed to delete: [{', '.join(failed)}]. "
            self.set_status(doc, "DELETE_FAILED", reason)
            raise StackError(f"stack {name} failed to delete: " + "; ".join(
                f"{k}: {doc['Resources'][k]['reason']}" for k in failed))
        self._forget(doc)
        self._event(doc, "DELETE_COMPLETE")

    def settle_interrupted(self) -> list[str]:
        """After a restart: every stack whose operation was running ends in the matching
        failed state (its resources so far kept, for a later update or delete to handle), and
        so does each resource that was in progress. Returns the stacks settled."""
        settled = []
        for doc in self.live():
            if doc["Status"] in INTERRUPTED:
                self.settle(doc, f"The local AWS stopped while the stack was {doc['Status']}; "
                            "resources done so far are kept: update or delete the stack.")
                settled.append(doc["StackName"])
        return settled

    def settle(self, doc: dict[str, Any], reason: str) -> None:
        """End an operation that cannot go on: the stack and each resource in progress in the
        matching failed state, with `reason`."""
        for logical, item in resources_of(doc).items():
            if item.status.endswith("_IN_PROGRESS"):
                self._resource_status(doc, logical, item,
                                      item.status.replace("_IN_PROGRESS", "_FAILED"), reason)
        self.set_status(doc, INTERRUPTED.get(doc["Status"], doc["Status"]), reason)

    def changes(self, doc: dict[str, Any], body: dict[str, Any],
                parameters: dict[str, str]) -> list[dict[str, Any]]:
        """What updating `doc` to `body` would do, as DescribeChangeSet's Changes: Add, Modify
        (Replacement True/False from each type's provider) and Remove."""
        previous = resources_of(doc)
        _rendered, planned = self._plan(doc, body, parameters, previous,
                                        tpl.Imports(self._export_values(doc)))
        changes = []
        for logical in tpl.creation_order(body["Resources"]):
            if logical not in planned:
                continue
            new, old = planned[logical], previous.get(logical)
            if old is None:
                changes.append(resource_change("Add", logical, new.type))
            elif old.name != new.name or old.props != new.props:
                provider = provider_for(new.type)
                details = [{"Target": {"Attribute": "Properties", "Name": prop,
                                       "RequiresRecreation": "Always" if
                                       provider.replaces_on_change(prop) else "Never"},
                            "Evaluation": "Static", "ChangeSource": "DirectModification"}
                           for prop in changed_properties(old.props, new.props)]
                changes.append(resource_change(
                    "Modify", logical, new.type, provider.ref(self.ctx, old.name),
                    "True" if old.name != new.name else "False", details))
        for logical, old in previous.items():
            if logical not in planned:
                changes.append(resource_change("Remove", logical, old.type,
                                               provider_for(old.type).ref(self.ctx, old.name)))
        return changes

    # -- internals -----------------------------------------------------------------------
    def _identities(self, planned: dict[str, Deployed]) -> dict[str, tuple[str, dict[str, str]]]:
        """What `Ref` and `Fn::GetAtt` return for each resource: asked of its provider."""
        identities = {}
        for logical, item in planned.items():
            provider = provider_for(item.type)
            identities[logical] = (provider.ref(self.ctx, item.name),
                                   provider.attributes(self.ctx, item.name))
        return identities

    def _plan(self, doc: dict[str, Any], body: dict[str, Any], parameters: dict[str, str],
              previous: dict[str, Deployed], imports: tpl.Imports,
              ) -> tuple[dict[str, Any], dict[str, Deployed]]:
        """Render the template and give every resource a physical name: kept when unchanged or
        updatable in place, new when created or replaced. Repeats until names are stable,
        since a replaced resource changes the properties of those that refer to it."""
        planned = {k: v.copy() for k, v in previous.items() if k in body["Resources"]}
        for logical, resource in body["Resources"].items():
            if logical not in planned or planned[logical].type != resource["Type"]:
                planned[logical] = Deployed(resource["Type"], "")
            planned[logical].deletion_policy = resource.get("DeletionPolicy", "Delete")
            planned[logical].update_replace_policy = resource.get("UpdateReplacePolicy",
                                                                  "Delete")
        while True:
            for logical, item in planned.items():
                raw = body["Resources"][logical].get("Properties") or {}
                item.name = item.name or provider_for(item.type).physical_name(logical, raw)
            rendered = tpl.render(body, parameters, self._identities(planned),
                                  doc["StackName"], doc["StackId"], imports)
            renamed = False
            for logical, item in planned.items():
                if logical not in rendered["Resources"]:
                    continue
                provider = provider_for(item.type)
                new_props = rendered["Resources"][logical].get("Properties", {})
                fixed = new_props.get(provider.name_property) if provider.name_property else None
                old = previous.get(logical)
                if fixed and item.name != fixed:
                    item.name, renamed = fixed, True  # a name set in the template
                elif old is not None and old.name == item.name and (
                        old.type != item.type or provider.needs_replacement(old.props,
                                                                            new_props)):
                    if fixed:
                        raise ResourceFailed(f"{logical} needs replacement but has the fixed "
                                             f"name {fixed}; CloudFormation cannot replace "
                                             "it either: rename it")
                    item.name, renamed = "", True  # replaced: a new name on the next pass
                item.props = new_props
            if not renamed:
                return rendered, {k: v for k, v in planned.items() if k in rendered["Resources"]}

    def _rerender(self, doc: dict[str, Any], body: dict[str, Any], parameters: dict[str, str],
                  planned: dict[str, Deployed], imports: tpl.Imports, renamed: str,
                  pending: list[str], rendered: dict[str, Any]) -> dict[str, Any]:
        """After the service named a resource (create returned its id), the properties of the
        resources still to be created, and the outputs, see that name (when they refer to
        it)."""
        if not any(renamed in tpl.references(body["Resources"][k]) for k in pending) and \
                renamed not in tpl.references(body.get("Outputs") or {}):
            return rendered
        rendered = tpl.render(body, parameters, self._identities(planned), doc["StackName"],
                              doc["StackId"], imports)
        for logical in pending:
            planned[logical].props = rendered["Resources"][logical].get("Properties", {})
        return rendered

    def _create_resource(self, doc: dict[str, Any], logical: str, item: Deployed) -> bool:
        """Create one resource; True when the service named it differently than planned."""
        provider = provider_for(item.type)
        label = f"  {logical} ({item.type})"
        self._resource_status(doc, logical, item, "CREATE_IN_PROGRESS",
                              line=f"{label}: creating {item.name}" if provider.emulated else "")
        if not provider.emulated:
            self._resource_status(doc, logical, item, "CREATE_COMPLETE", RECORDED_ONLY,
                                  f"{label}: {RECORDED_ONLY}")
            return False
        self._prepare(item)
        try:
            with invalid_properties(logical):
                physical = provider.create(self.ctx, item.name, item.props)
        except ResourceFailed as exc:
            self._resource_status(doc, logical, item, "CREATE_FAILED", str(exc),
                                  f"{label}: CREATE_FAILED ({exc})")
            raise
        renamed = bool(physical) and physical != item.name
        if renamed:
            item.name = str(physical)
        self._resource_status(doc, logical, item, "CREATE_COMPLETE", self._notes(),
                              self._noted(label))
        return renamed

    def _update_resource(self, doc: dict[str, Any], logical: str, old: Deployed,
                         new: Deployed) -> None:
        provider = provider_for(new.type)
        label = f"  {logical} ({new.type})"
        if not provider.emulated:
            self._resource_status(doc, logical, new, "UPDATE_IN_PROGRESS")
            self._resource_status(doc, logical, new, "UPDATE_COMPLETE", RECORDED_ONLY,
                                  f"{label}: {RECORDED_ONLY}")
            return
        self._resource_status(doc, logical, new, "UPDATE_IN_PROGRESS",
                              line=f"{label}: updating {new.name}")
        self._prepare(new)
        try:
            with invalid_properties(logical):
                provider.update(self.ctx, new.name, old.props, new.props)
        except ResourceFailed as exc:
            self._resource_status(doc, logical, new, "UPDATE_FAILED", str(exc),
                                  f"{label}: UPDATE_FAILED ({exc})")
            raise
        self._resource_status(doc, logical, new, "UPDATE_COMPLETE", self._notes(),
                              self._noted(label))

    def _remove(self, doc: dict[str, Any], items: dict[str, Deployed],
                rollback_of_create: bool = False, retain: set[str] | None = None,
                retain_except_on_create: bool = False) -> list[str]:
        """Delete `items` in reverse creation order; the logical ids that failed to delete
        (they stay in the stack, DELETE_FAILED)."""
        failed = []
        order = [k for k in reversed(doc["Order"]) if k in items]
        order = [k for k in items if k not in order] + order
        for logical in order:
            item = items[logical]
            keep = retained(item, rollback_of_create, retain_except_on_create) or \
                logical in (retain or set())
            if not self._remove_one(doc, logical, item, keep):
                failed.append(logical)
        return failed

    def _remove_one(self, doc: dict[str, Any], logical: str, item: Deployed, keep: bool,
                    cleanup: bool = False) -> bool:
        """Delete (or keep) one resource; False when its deletion failed."""
        provider = provider_for(item.type)
        label = f"  {logical} ({item.type})"
        current = doc["Resources"].get(logical, {}).get("name") == item.name
        if keep:
            self._event(doc, "DELETE_SKIPPED", "", logical, item,
                        f"{label}: kept ({item.deletion_policy if not cleanup else 'Retain'}): "
                        f"{item.name}")
        else:
            self._event(doc, "DELETE_IN_PROGRESS", "", logical, item,
                        f"{label}: deleting {item.name}" if provider.emulated else "")
            self._prepare(item)
            try:
                with invalid_properties(logical):
                    provider.delete(self.ctx, item.name)
            except ResourceFailed as exc:
                if current:
                    self._resource_status(doc, logical, item, "DELETE_FAILED", str(exc),
                                          f"{label}: DELETE_FAILED ({exc})")
                else:
                    self._event(doc, "DELETE_FAILED", str(exc), logical, item,
                                f"{label}: DELETE_FAILED ({exc})")
                return False
            self._event(doc, "DELETE_COMPLETE", "", logical, item, "")
        if current:
            doc["Resources"].pop(logical)
            self.save(doc)
        return True

    def _prepare(self, item: Deployed) -> None:
        self.ctx.notes.clear()
        self.ctx.properties = item.props

    def _notes(self) -> str:
        return "; ".join(self.ctx.notes)

    def _noted(self, label: str) -> str:
        return f"{label}: {self._notes()}" if self.ctx.notes else ""

    def _complete(self, doc: dict[str, Any], rendered: dict[str, Any],
                  planned: dict[str, Deployed], imports: tpl.Imports) -> None:
        """Outputs and exports of a stack whose resources are all done."""
        doc["Outputs"] = self._outputs(rendered, planned)
        doc["OutputInfo"] = {key: {"Description": output.get("Description"),
                                   "ExportName": (output.get("Export") or {}).get("Name")}
                             for key, output in rendered.get("Outputs", {}).items()}
        doc["Imports"] = imports.used
        with self.store.tx() as db:
            db.execute("DELETE FROM cloudformation_exports WHERE stack_id=?", (doc["StackId"],))
            for key, info in doc["OutputInfo"].items():
                if info["ExportName"]:
                    db.execute("INSERT INTO cloudformation_exports(name, stack_id, value) "
                               "VALUES (?, ?, ?)", (info["ExportName"], doc["StackId"],
                                                    doc["Outputs"][key]))

    def _export_values(self, doc: dict[str, Any]) -> dict[str, str]:
        """What `Fn::ImportValue` may read: the other stacks' exports."""
        return {e["Name"]: e["Value"] for e in self.exports()
                if e["ExportingStackId"] != doc["StackId"]}

    def _check_exports(self, doc: dict[str, Any], rendered: dict[str, Any]) -> None:
        """Export names are unique in a region; an export another stack imports can neither
        change nor go."""
        ours = {e["Name"]: e["Value"] for e in self.exports()
                if e["ExportingStackId"] == doc["StackId"]}
        others = {e["Name"]: e["ExportingStackId"] for e in self.exports()
                  if e["ExportingStackId"] != doc["StackId"]}
        wanted = {}
        for output in rendered.get("Outputs", {}).values():
            name = (output.get("Export") or {}).get("Name")
            if name:
                if name in others:
                    raise tpl.TemplateError(f"Export with name {name} is already exported by "
                                            f"stack {others[name].split('/')[1]}")
                wanted[name] = str(output["Value"])
        for name, value in ours.items():
            users = self.importers(name)
            if users and name not in wanted:
                raise tpl.TemplateError(f"Cannot delete export {name} as it is in use by "
                                        f"{', '.join(users)}")
            if users and wanted[name] != value:
                raise tpl.TemplateError(f"Cannot update export {name} as it is in use by "
                                        f"{', '.join(users)}")

    def _outputs(self, rendered: dict[str, Any],
                 deployed: dict[str, Deployed]) -> dict[str, str]:
        """The outputs, with an emulated resource's AWS address made local where its provider
        can (`localize`: a REST API's execute-api URL becomes the 127.0.0.1 one it answers on)."""
        outputs = {k: tpl.as_text(v["Value"]) for k, v in rendered.get("Outputs", {}).items()}
        for item in deployed.values():
            provider = provider_for(item.type)
            for key, value in outputs.items():
                outputs[key] = provider.localize(self.ctx, item.name, value)
                if outputs[key] != value:
                    self.ctx.log(f"  output {key}: {outputs[key]} (in AWS: {value})")
        return outputs


@contextmanager
def invalid_properties(logical: str) -> Iterator[None]:
    """A provider that trips over properties of the wrong shape (a missing key, a number
    where an object belongs) fails its resource with CloudFormation's kind of message, instead
    of the whole operation; the traceback goes to the log."""
    try:
        yield
    except KeyError as exc:
        raise ResourceFailed(f"Properties validation failed for resource {logical} with "
                             f"message: #: required key [{exc.args[0]}] not found") from None
    except ParamValidationError as exc:  # botocore refused what the properties gave it
        raise ResourceFailed(f"Properties validation failed for resource {logical} with "
                             f"message: {exc.kwargs['report'].strip()}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        log.warning("resource %s: properties of an unexpected shape", logical, exc_info=True)
        raise ResourceFailed(f"Properties validation failed for resource {logical} with "
                             f"message: a property does not have the type its resource type "
                             f"expects ({exc})") from None


def retained(item: Deployed, rollback_of_create: bool,
             retain_except_on_create: bool = False) -> bool:
    """Whether the stack keeps `item` instead of deleting it: its DeletionPolicy, except that
    rolling back the operation that created it deletes a RetainExceptOnCreate resource, and
    with the operation's RetainExceptOnCreate flag a Retain one too."""
    if rollback_of_create and (retain_except_on_create
                               or item.deletion_policy == "RetainExceptOnCreate"):
        return False
    return item.deletion_policy in ("Retain", "RetainExceptOnCreate")


def resource_change(action: str, logical: str, kind: str, physical: str | None = None,
                    replacement: str | None = None,
                    details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {"Action": action, "LogicalResourceId": logical,
                              "ResourceType": kind, "Details": details or []}
    if physical is not None:
        change["PhysicalResourceId"] = physical
    if replacement is not None:
        change["Replacement"] = replacement
        change["Scope"] = ["Properties"]
    return {"Type": "Resource", "ResourceChange": change}
