"""The engine: create, update (in place or by replacement), roll back and delete stacks as
CloudFormation does, with each stack's state and its event list (what DescribeStackEvents
answers) in the local store.

The engine takes a parsed template and parameters and reaches resources only through their
providers (providers/), which reach the local AWS through their Context: it does not know who
calls it (the pipeline's CloudFormation action today, the CloudFormation API tomorrow).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from sagepipe.cloudformation import template as tpl
from sagepipe.cloudformation.providers import Context, ResourceFailed, provider_for
from sagepipe.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS cloudformation_stacks (
    name TEXT PRIMARY KEY,
    doc BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS cloudformation_stack_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stack_id TEXT NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS cloudformation_stack_events_by_stack
    ON cloudformation_stack_events(stack_id, seq);
"""
STACK_TYPE = "AWS::CloudFormation::Stack"
# States from which a stack cannot be updated (AWS: delete it first) or deployed at all.
FAILED_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED",
                 "UPDATE_ROLLBACK_FAILED"}
BUSY_STATES = {"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"}


class StackError(RuntimeError):
    """A deploy failed; the stack was rolled back (its status says how far)."""


@dataclass
class Deployed:
    """One resource as deployed: its physical name and the properties it was created with."""

    type: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)


class Stacks:
    def __init__(self, store: Store, context: Context) -> None:
        self.store = store
        self.ctx = context
        store.declare(DDL)

    # -- state ---------------------------------------------------------------------------
    def describe(self, name: str) -> dict[str, Any] | None:
        row = self.store.one("SELECT doc FROM cloudformation_stacks WHERE name=?", name)
        return None if row is None else orjson.loads(row["doc"])

    def events(self, stack: str) -> list[dict[str, Any]]:
        """The stack's events, newest first (DescribeStackEvents): by name while the stack
        exists, by StackId also after it was deleted."""
        current = self.describe(stack)
        stack_id = current["StackId"] if current else stack
        return [orjson.loads(r["doc"]) for r in self.store.query(
            "SELECT doc FROM cloudformation_stack_events WHERE stack_id=? ORDER BY seq DESC",
            stack_id)]

    def _save(self, doc: dict[str, Any]) -> None:
        doc["LastUpdatedTime"] = time.time()
        with self.store.tx() as db:
            db.execute("INSERT INTO cloudformation_stacks(name, doc) VALUES (?, ?) ON CONFLICT"
                       "(name) DO UPDATE SET doc=excluded.doc",
                       (doc["StackName"], orjson.dumps(doc)))

    def _forget(self, name: str) -> None:
        with self.store.tx() as db:
            db.execute("DELETE FROM cloudformation_stacks WHERE name=?", (name,))

    def _event(self, doc: dict[str, Any], status: str, reason: str = "",
               logical: str | None = None, item: Deployed | None = None,
               line: str | None = None) -> None:
        """Record one event (the stack's own when `logical` is None) and log it."""
        event = {"StackId": doc["StackId"], "EventId": str(uuid.uuid4()),
                 "StackName": doc["StackName"], "Timestamp": time.time(),
                 "LogicalResourceId": logical or doc["StackName"],
                 "PhysicalResourceId": item.name if item else doc["StackId"],
                 "ResourceType": item.type if item else STACK_TYPE,
                 "ResourceStatus": status, "ResourceStatusReason": reason}
        with self.store.tx() as db:
            db.execute("INSERT INTO cloudformation_stack_events(stack_id, doc) VALUES (?, ?)",
                       (doc["StackId"], orjson.dumps(event)))
        if line:
            self.ctx.log(line)
        elif logical is None:
            self.ctx.log(f"stack {doc['StackName']}: {status}"
                         + (f" ({reason})" if reason else ""))

    def _set_status(self, doc: dict[str, Any], status: str, reason: str = "") -> None:
        doc["Status"], doc["StatusReason"] = status, reason
        self._save(doc)
        self._event(doc, status, reason)

    # -- actions -------------------------------------------------------------------------
    def deploy(self, name: str, body: dict[str, Any], parameters: dict[str, str],
               replace_on_failure: bool = False) -> dict[str, str]:
        """CREATE_UPDATE (or REPLACE_ON_FAILURE) of the parsed template `body` (template.load):
        returns the stack's outputs."""
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
        if current is None:
            return self._create(name, body, parameters)
        return self._update(current, body, parameters)

    def delete(self, name: str) -> None:
        current = self.describe(name)
        if current is None:
            self.ctx.log(f"stack {name} does not exist: nothing to delete")
            return
        self._set_status(current, "DELETE_IN_PROGRESS")
        deployed = {k: Deployed(**v) for k, v in current["Resources"].items()}
        try:
            self._delete_all(current, deployed, current["Order"])
        except ResourceFailed as exc:
            self._set_status(current, "DELETE_FAILED", str(exc))
            raise StackError(f"stack {name} failed to delete: {exc}") from None
        self._forget(name)
        self._event(current, "DELETE_COMPLETE")

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
              previous: dict[str, Deployed]) -> tuple[dict[str, Any], dict[str, Deployed]]:
        """Render the template and give every resource a physical name: kept when unchanged or
        updatable in place, new when created or replaced. Repeats until names are stable,
        since a replaced resource changes the properties of those that refer to it."""
        planned = {k: Deployed(v.type, v.name, v.props) for k, v in previous.items()
                   if k in body["Resources"]}
        for logical, resource in body["Resources"].items():
            if logical not in planned:
                planned[logical] = Deployed(resource["Type"], "")
        while True:
            for logical, item in planned.items():
                item.name = item.name or provider_for(item.type).physical_name(logical, {})
            rendered = tpl.render(body, parameters, self._identities(planned),
                                  doc["StackName"], doc["StackId"])
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
                elif old is not None and old.name == item.name and provider.needs_replacement(
                        old.props, new_props):
                    if fixed:
                        raise StackError(f"{logical} needs replacement but has the fixed name "
                                         f"{fixed}; CloudFormation cannot replace it either")
                    item.name, renamed = "", True  # replaced: a new name on the next pass
                item.props = new_props
            if not renamed:
                return rendered, {k: v for k, v in planned.items() if k in rendered["Resources"]}

    def _create(self, name: str, body: dict[str, Any],
                parameters: dict[str, str]) -> dict[str, str]:
        doc: dict[str, Any] = {"StackName": name, "StackId": self.ctx.arn("cloudformation",
                                                          f"stack/{name}/{uuid.uuid4()}"),
               "CreationTime": time.time(), "Parameters": parameters, "Outputs": {},
               "Order": [], "Resources": {}}
        rendered, planned = self._plan(doc, body, parameters, {})
        order = [k for k in tpl.creation_order(body["Resources"]) if k in planned]
        doc["Order"] = order
        self._set_status(doc, "CREATE_IN_PROGRESS")
        try:
            for logical in order:
                # Recorded before it is created: a rollback (or a later delete, after a crash)
                # removes it even if its creation fails half-way.
                doc["Resources"][logical] = vars(planned[logical])
                self._save(doc)
                self._create_resource(doc, logical, planned[logical])
        except ResourceFailed as exc:
            self._set_status(doc, "ROLLBACK_IN_PROGRESS", str(exc))
            self._delete_all(doc, {k: Deployed(**v) for k, v in doc["Resources"].items()}, order)
            doc["Resources"], doc["Order"] = {}, []
            self._set_status(doc, "ROLLBACK_COMPLETE", str(exc))
            raise StackError(f"stack {name} failed to create and was rolled back: {exc}") from None
        doc["Outputs"] = self._outputs(rendered, planned)
        self._set_status(doc, "CREATE_COMPLETE")
        return doc["Outputs"]

    def _update(self, current: dict[str, Any], body: dict[str, Any],
                parameters: dict[str, str]) -> dict[str, str]:
        name = current["StackName"]
        previous = {k: Deployed(**v) for k, v in current["Resources"].items()}
        rendered, planned = self._plan(current, body, parameters, previous)
        order = [k for k in tpl.creation_order(body["Resources"]) if k in planned]
        self._set_status(current, "UPDATE_IN_PROGRESS")
        created: dict[str, Deployed] = {}
        updated: list[tuple[str, Deployed, Deployed]] = []
        try:
            for logical in order:
                new, old = planned[logical], previous.get(logical)
                if old is None or old.name != new.name:
                    created[logical] = new  # rolled back even if creation fails
                    self._create_resource(current, logical, new)
                elif old.props != new.props:
                    self._update_resource(current, logical, old, new)
                    updated.append((logical, old, new))
        except ResourceFailed as exc:
            self._set_status(current, "UPDATE_ROLLBACK_IN_PROGRESS", str(exc))
            for logical, old, new in reversed(updated):
                self._update_resource(current, logical, new, old)
            self._delete_all(current, created, order)
            self._set_status(current, "UPDATE_ROLLBACK_COMPLETE", str(exc))
            raise StackError(f"stack {name} failed to update and was rolled back: {exc}") from None
        # Cleanup phase: what was replaced or removed goes once the new resources are up.
        leftovers = {k: v for k, v in previous.items()
                     if k not in planned or planned[k].name != v.name}
        self._delete_all(current, leftovers, current["Order"])
        current.update(Parameters=parameters, Order=order,
                       Resources={k: vars(v) for k, v in planned.items()},
                       Outputs=self._outputs(rendered, planned))
        self._set_status(current, "UPDATE_COMPLETE")
        return current["Outputs"]

    def _create_resource(self, doc: dict[str, Any], logical: str, item: Deployed) -> None:
        provider = provider_for(item.type)
        if not provider.emulated:
            self._event(doc, "CREATE_COMPLETE", "not emulated locally, recorded only", logical,
                        item, f"  {logical} ({item.type}): not emulated locally, recorded only")
            return
        self._event(doc, "CREATE_IN_PROGRESS", "", logical, item,
                    f"  {logical} ({item.type}): creating {item.name}")
        try:
            provider.create(self.ctx, item.name, item.props)
        except ResourceFailed as exc:
            self._event(doc, "CREATE_FAILED", str(exc), logical, item, "")
            raise
        self._event(doc, "CREATE_COMPLETE", "", logical, item, "")

    def _update_resource(self, doc: dict[str, Any], logical: str, old: Deployed,
                         new: Deployed) -> None:
        provider = provider_for(new.type)
        if not provider.emulated:
            self._event(doc, "UPDATE_COMPLETE", "not emulated locally, recorded only", logical,
                        new, f"  {logical} ({new.type}): not emulated locally, recorded only")
            return
        self._event(doc, "UPDATE_IN_PROGRESS", "", logical, new,
                    f"  {logical} ({new.type}): updating {new.name}")
        try:
            provider.update(self.ctx, new.name, old.props, new.props)
        except ResourceFailed as exc:
            self._event(doc, "UPDATE_FAILED", str(exc), logical, new, "")
            raise
        self._event(doc, "UPDATE_COMPLETE", "", logical, new, "")

    def _delete_all(self, doc: dict[str, Any], deployed: dict[str, Deployed],
                    order: list[str]) -> None:
        for logical in reversed(order):
            item = deployed.get(logical)
            if item is None:
                continue
            provider = provider_for(item.type)
            if provider.emulated:
                self._event(doc, "DELETE_IN_PROGRESS", "", logical, item,
                            f"  {logical} ({item.type}): deleting {item.name}")
                provider.delete(self.ctx, item.name)
            self._event(doc, "DELETE_COMPLETE", "", logical, item, "")

    def _outputs(self, rendered: dict[str, Any],
                 deployed: dict[str, Deployed]) -> dict[str, str]:
        """The outputs, with an emulated resource's AWS address made local where its provider
        can (`localize`: a REST API's execute-api URL becomes the 127.0.0.1 one it answers on)."""
        outputs = {k: str(v["Value"]) for k, v in rendered.get("Outputs", {}).items()}
        for item in deployed.values():
            provider = provider_for(item.type)
            for key, value in outputs.items():
                outputs[key] = provider.localize(self.ctx, item.name, value)
                if outputs[key] != value:
                    self.ctx.log(f"  output {key}: {outputs[key]} (in AWS: {value})")
        return outputs
