"""Stacks: create, update (in place or by replacement), roll back and delete, as CloudFormation
does, with the state of each stack kept in the local store.

Resource types in `resource_types.EMULATED` are created for real through the local SageMaker
API; every other type is recorded in the stack but not created, and the deploy says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sagepipe.cloudformation import template as tpl
from sagepipe.cloudformation.resource_types import (
    EMULATED,
    ResourceFailed,
    generated_name,
)
from sagepipe.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS cloudformation_stacks (
    name TEXT PRIMARY KEY,
    doc BLOB NOT NULL
);
"""
FAILED_STATES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED",
                 "UPDATE_ROLLBACK_FAILED"}
Log = Callable[[str], None]


class StackError(RuntimeError):
    """A deploy failed; the stack was rolled back (its status says how far)."""


@dataclass
class Deployed:
    """One resource as deployed: its physical name and the properties it was created with."""

    type: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> tuple[str, dict[str, str]]:
        handler = EMULATED.get(self.type)
        return handler.identity(self.name) if handler else (self.name, {})


class Stacks:
    def __init__(self, store: Store, sagemaker: Any, log: Log = print) -> None:
        self.store = store
        self.sm = sagemaker
        self.log = log
        store.declare(DDL)

    # -- state ---------------------------------------------------------------------------
    def describe(self, name: str) -> dict[str, Any] | None:
        row = self.store.one("SELECT doc FROM cloudformation_stacks WHERE name=?", name)
        return None if row is None else orjson.loads(row["doc"])

    def _save(self, name: str, doc: dict[str, Any]) -> None:
        with self.store.tx() as db:
            db.execute("INSERT INTO cloudformation_stacks(name, doc) VALUES (?, ?) ON CONFLICT"
                       "(name) DO UPDATE SET doc=excluded.doc", (name, orjson.dumps(doc)))

    def _forget(self, name: str) -> None:
        with self.store.tx() as db:
            db.execute("DELETE FROM cloudformation_stacks WHERE name=?", (name,))

    # -- actions -------------------------------------------------------------------------
    def deploy(self, name: str, template_path: Path, parameters: dict[str, str],
               replace_on_failure: bool = False) -> dict[str, str]:
        """CREATE_UPDATE (or REPLACE_ON_FAILURE): returns the stack's outputs."""
        body = tpl.load(template_path)
        current = self.describe(name)
        if current and current["Status"] in FAILED_STATES:
            if not replace_on_failure:
                raise StackError(f"stack {name} is {current['Status']} and cannot be updated; "
                                 "delete it first (REPLACE_ON_FAILURE does this)")
            self.log(f"stack {name} is {current['Status']}: deleting it before re-creating")
            self.delete(name)
            current = None
        if current is None:
            return self._create(name, body, parameters)
        return self._update(name, current, body, parameters)

    def delete(self, name: str) -> None:
        current = self.describe(name)
        if current is None:
            self.log(f"stack {name} does not exist: nothing to delete")
            return
        deployed = {k: Deployed(**v) for k, v in current["Resources"].items()}
        self._delete_all(deployed, current["Order"])
        self._forget(name)
        self.log(f"stack {name}: DELETE_COMPLETE")

    # -- internals -----------------------------------------------------------------------
    def _plan(self, name: str, body: dict[str, Any], parameters: dict[str, str],
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
                item.name = item.name or generated_name(logical)
            rendered = tpl.render(body, parameters,
                                  {k: v.identity() for k, v in planned.items()}, name)
            renamed = False
            for logical, item in planned.items():
                if logical not in rendered["Resources"]:
                    continue
                new_props = rendered["Resources"][logical].get("Properties", {})
                handler = EMULATED.get(item.type)
                fixed = new_props.get(handler.name_property) if handler else None
                old = previous.get(logical)
                if fixed and item.name != fixed:
                    item.name, renamed = fixed, True  # a name set in the template
                elif old is not None and old.name == item.name and self._needs_replacement(
                        item.type, old.props, new_props):
                    if fixed:
                        raise StackError(f"{logical} needs replacement but has the fixed name "
                                         f"{fixed}; CloudFormation cannot replace it either")
                    item.name, renamed = "", True  # replaced: a new name on the next pass
                item.props = new_props
            if not renamed:
                return rendered, {k: v for k, v in planned.items() if k in rendered["Resources"]}

    @staticmethod
    def _needs_replacement(type_name: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
        handler = EMULATED.get(type_name)
        changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        return bool(handler and changed - handler.updatable)

    def _create(self, name: str, body: dict[str, Any],
                parameters: dict[str, str]) -> dict[str, str]:
        rendered, planned = self._plan(name, body, parameters, {})
        order = [k for k in tpl.creation_order(body["Resources"]) if k in planned]
        self.log(f"stack {name}: CREATE_IN_PROGRESS")
        created: dict[str, Deployed] = {}
        try:
            for logical in order:
                created[logical] = planned[logical]  # rolled back even if creation fails
                self._create_resource(logical, planned[logical])
        except ResourceFailed as exc:
            self.log(f"stack {name}: CREATE_FAILED ({exc}); rolling back")
            self._delete_all(created, order)
            self._save(name, self._doc("ROLLBACK_COMPLETE", {}, [], {}, parameters, str(exc)))
            raise StackError(f"stack {name} failed to create and was rolled back: {exc}") from None
        outputs = self._outputs(rendered, planned)
        self._save(name, self._doc("CREATE_COMPLETE", planned, order, outputs, parameters))
        self.log(f"stack {name}: CREATE_COMPLETE")
        return outputs

    def _update(self, name: str, current: dict[str, Any], body: dict[str, Any],
                parameters: dict[str, str]) -> dict[str, str]:
        previous = {k: Deployed(**v) for k, v in current["Resources"].items()}
        rendered, planned = self._plan(name, body, parameters, previous)
        order = [k for k in tpl.creation_order(body["Resources"]) if k in planned]
        self.log(f"stack {name}: UPDATE_IN_PROGRESS")
        created: dict[str, Deployed] = {}
        updated: list[tuple[str, Deployed, Deployed]] = []
        try:
            for logical in order:
                new, old = planned[logical], previous.get(logical)
                if old is None or old.name != new.name:
                    created[logical] = new  # rolled back even if creation fails
                    self._create_resource(logical, new)
                elif old.props != new.props:
                    self._update_resource(logical, old, new)
                    updated.append((logical, old, new))
        except ResourceFailed as exc:
            self.log(f"stack {name}: UPDATE_FAILED ({exc}); rolling back")
            for logical, old, new in reversed(updated):
                self._update_resource(logical, new, old)
            self._delete_all(created, order)
            current["Status"], current["StatusReason"] = "UPDATE_ROLLBACK_COMPLETE", str(exc)
            self._save(name, current)
            raise StackError(f"stack {name} failed to update and was rolled back: {exc}") from None
        # Cleanup phase: what was replaced or removed goes once the new resources are up.
        leftovers = {k: v for k, v in previous.items()
                     if k not in planned or planned[k].name != v.name}
        self._delete_all(leftovers, current["Order"])
        outputs = self._outputs(rendered, planned)
        self._save(name, self._doc("UPDATE_COMPLETE", planned, order, outputs, parameters))
        self.log(f"stack {name}: UPDATE_COMPLETE")
        return outputs

    def _create_resource(self, logical: str, item: Deployed) -> None:
        handler = EMULATED.get(item.type)
        if handler is None:
            self.log(f"  {logical} ({item.type}): not emulated locally, recorded only")
            return
        self.log(f"  {logical} ({item.type}): creating {item.name}")
        handler.create(self.sm, item.name, item.props)

    def _update_resource(self, logical: str, old: Deployed, new: Deployed) -> None:
        handler = EMULATED.get(new.type)
        if handler is None:
            self.log(f"  {logical} ({new.type}): not emulated locally, recorded only")
            return
        self.log(f"  {logical} ({new.type}): updating {new.name}")
        handler.update(self.sm, new.name, old.props, new.props)

    def _delete_all(self, deployed: dict[str, Deployed], order: list[str]) -> None:
        for logical in reversed(order):
            item = deployed.get(logical)
            if item is None:
                continue
            handler = EMULATED.get(item.type)
            if handler is not None:
                self.log(f"  {logical} ({item.type}): deleting {item.name}")
                handler.delete(self.sm, item.name)

    def _outputs(self, rendered: dict[str, Any],
                 deployed: dict[str, Deployed]) -> dict[str, str]:
        """The outputs, with an emulated resource's AWS address made local where its type can
        (`localize`: a REST API's execute-api URL becomes the 127.0.0.1 one it answers on)."""
        outputs = {k: str(v["Value"]) for k, v in rendered.get("Outputs", {}).items()}
        for item in deployed.values():
            localize = getattr(EMULATED.get(item.type), "localize", None)
            for key, value in list(outputs.items()) if localize else ():
                outputs[key] = localize(self.sm, item.name, value)
                if outputs[key] != value:
                    self.log(f"  output {key}: {outputs[key]} (in AWS: {value})")
        return outputs

    @staticmethod
    def _doc(status: str, resources: dict[str, Deployed], order: list[str],
             outputs: dict[str, str], parameters: dict[str, str],
             reason: str = "") -> dict[str, Any]:
        return {"Status": status, "StatusReason": reason, "LastUpdated": time.time(),
                "Parameters": parameters, "Outputs": outputs, "Order": order,
                "Resources": {k: vars(v) for k, v in resources.items()}}
