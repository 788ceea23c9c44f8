"""The resource-provider interface of the local CloudFormation.

A provider handles one resource type: what its physical name is, what `Ref` and `Fn::GetAtt`
return, which property changes it applies in place (any other change replaces the resource),
and how to create, update and delete it. It reaches the local AWS only through its `Context`
(boto3 clients made by one factory, the gateway's internal routes, a log, the region and
account), as a CloudFormation resource handler reaches AWS: it knows nothing of the engine
(stacks.py) nor of who runs it.

Adding a type is one module with one `ResourceProvider` subclass, plus its line in the registry
(providers/__init__.py).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from sagepipe import clients
from sagepipe.config import ACCOUNT_ID, Settings, arn
from sagepipe.errors import AWSError

Log = Callable[[str], None]


class ResourceFailed(RuntimeError):
    """A resource could not be created, updated or deleted; the message is the reason."""


@dataclass
class Context:
    """What a provider may use: the local AWS of `settings` and a log for the deploy."""

    settings: Settings
    log: Log = print
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)
    # The properties of the resource being worked on, as CloudFormation hands its resource
    # handlers the resource model: `delete` reads them (an ECR repository's EmptyOnDelete).
    properties: dict[str, Any] = field(default_factory=dict)

    def note(self, text: str) -> None:
        """Say what was recorded rather than applied (a property the local AWS does not
        emulate): the engine puts it in the resource's event (ResourceStatusReason)."""
        self.notes.append(text)

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def account(self) -> str:
        return ACCOUNT_ID

    def client(self, service: str) -> Any:
        """A boto3 client of the local AWS (one per service, reused)."""
        if service not in self._clients:
            self._clients[service] = clients.client(self.settings, service)
        return self._clients[service]

    def internal(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One of the gateway's internal routes (`/_sagepipe/<path>`); failures are
        ResourceFailed with the route's reason."""
        try:
            return clients.internal(self.settings, method, path, body)
        except clients.Unreachable as exc:
            raise ResourceFailed(str(exc)) from None
        except AWSError as exc:
            raise ResourceFailed(f"{exc.code}: {exc.message}") from None

    def arn(self, service: str, resource: str) -> str:
        return arn(service, resource, self.region, self.account)


def generated_name(logical_id: str, limit: int = 63) -> str:
    """A physical name in CloudFormation's style, `<LogicalId>-<random>`."""
    suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
    return f"{logical_id[:limit - 13]}-{suffix}"


def call(fn: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
    """A boto3 call whose AWS error becomes the resource's failure reason."""
    try:
        return fn(**params)
    except ClientError as exc:
        error = exc.response["Error"]
        raise ResourceFailed(f"{error.get('Code')}: {error.get('Message')}") from None


def apply_or_note(ctx: Context, what: str, fn: Callable[..., Any], **params: Any) -> None:
    """A call that applies the property `what`; where the local service does not implement it
    (NotImplemented), the property is recorded and the resource's event says so."""
    try:
        fn(**params)
    except ClientError as exc:
        error = exc.response["Error"]
        if error.get("Code") != "NotImplemented":
            raise ResourceFailed(f"{error.get('Code')}: {error.get('Message')}") from None
        ctx.note(f"{what} recorded only: the local AWS does not implement "
                 f"{exc.operation_name} yet")


def note_recorded(ctx: Context, props: dict[str, Any], names: tuple[str, ...],
                  service: str) -> None:
    """Say which of `names` are set in `props` and only recorded (not applied locally)."""
    present = [name for name in names if name in props]
    if present:
        ctx.note(f"{', '.join(present)} recorded only: the local {service} does not apply "
                 f"{'it' if len(present) == 1 else 'them'}")


def fixed_name(provider: ResourceProvider, props: dict[str, Any]) -> str:
    """The name `props` give the resource, if they give one as text."""
    value = props.get(provider.name_property) if provider.name_property else None
    return value if isinstance(value, str) else ""


def changed_properties(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


class ResourceProvider:
    """One resource type. The defaults describe a type that is recorded in the stack but not
    created (`emulated = False`): subclasses that create something override the three
    operations and set `emulated`."""

    type_name: str = ""
    name_property: ClassVar[str] = ""  # the property that names the resource, if any
    updatable: ClassVar[frozenset[str]] = frozenset({"Tags"})  # changed in place
    emulated: ClassVar[bool] = False

    # -- identity: what Ref and Fn::GetAtt return -------------------------------------------
    def physical_name(self, logical_id: str, props: dict[str, Any]) -> str:
        """The name set in the template, else one generated as CloudFormation does."""
        return str(fixed_name(self, props) or generated_name(logical_id))

    def ref(self, ctx: Context, name: str) -> str:
        return name

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        """`Fn::GetAtt` values by attribute name."""
        return {}

    def replaces_on_change(self, prop: str) -> bool:
        """Whether a change of the property `prop` replaces the resource (CloudFormation's
        "Replacement: True"). A type that is only recorded is never replaced (nothing exists
        to replace)."""
        return self.emulated and prop not in self.updatable

    def needs_replacement(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        """Whether changing `old` properties to `new` replaces the resource."""
        return any(self.replaces_on_change(prop) for prop in changed_properties(old, new))

    # -- operations --------------------------------------------------------------------------
    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> str | None:
        """Create the resource named `name`. Returns its physical id where the service assigns
        it (an SNS subscription's ARN); None keeps `name`. Recorded only here (a type the local
        AWS does not emulate)."""
        return None

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Recorded only."""

    def delete(self, ctx: Context, name: str) -> None:
        """Recorded only."""

    def localize(self, ctx: Context, name: str, value: str) -> str:
        """An output `value` with this resource's AWS address replaced by its local one, where
        the type serves something locally (a REST API's URL); unchanged otherwise."""
        return value


class Recorded(ResourceProvider):
    """A type with no provider of its own: recorded, `Ref` is its physical name and `Arn` the
    usual `arn:aws:<service>:<region>:<account>:<name>`."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn(self.type_name.split("::")[1].lower(), name)}
