"""What REST-JSON and REST-XML share: which operation a request is, read from each
operation's HTTP method and URI template in botocore's model, and the input and output members
that travel outside the body (URI labels, query string, headers, the status code).

An operation matches a request when its method, its path template (`/{Bucket}/{Key+}`, a `+`
label spanning segments), the fixed query keys of its URI (`?uploads`) and its required query
and header members all hold; the most specific match wins (then one the service implements,
then one not deprecated), so every request to a REST API is named, implemented or not.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import orjson
from botocore.model import OperationModel, ServiceModel, StructureShape

from sagepipe.protocols.values import from_text, to_text

LABEL = re.compile(r"\{([^}]+)\}")


class BadValue(ValueError):
    """A member's text that is not of its type; the protocol names the error."""

    def __init__(self, wire: str, location: str, text: str, type_name: str) -> None:
        super().__init__(f"The {location} {wire} has an invalid value {text!r}: expected a "
                         f"{type_name}.")
        self.wire = wire
        self.text = text


@dataclass(frozen=True)
class Route:
    op: OperationModel
    method: str
    path: re.Pattern[str]
    labels: tuple[str, ...]  # the URI labels, in the order of the pattern's groups
    literal: int  # characters of the path template outside labels
    fixed_query: tuple[tuple[str, str], ...]  # ("uploads", "") or ("list-type", "2")
    query_members: tuple[str, ...]
    header_members: tuple[str, ...]

    @classmethod
    def of(cls, op: OperationModel) -> Route:
        template, _, query = op.http["requestUri"].partition("?")
        pattern, labels, last = "", [], 0
        for found in LABEL.finditer(template):
            pattern += re.escape(template[last:found.start()])
            name = found.group(1)
            pattern += "(.+)" if name.endswith("+") else "([^/]+)"
            labels.append(name.rstrip("+"))
            last = found.end()
        pattern += re.escape(template[last:])
        if not template.endswith("/"):
            pattern += "/?"  # `/bucket/` is the bucket, as `/bucket` is
        required = op.input_shape.required_members if op.input_shape else []
        located = [(op.input_shape.members[name].serialization.get("location"),
                    op.input_shape.members[name].serialization.get("name", name))
                   for name in required]
        return cls(op, op.http["method"], re.compile(pattern), tuple(labels),
                   len(LABEL.sub("", template)),
                   tuple(parse_qsl(query, keep_blank_values=True)),
                   tuple(wire for loc, wire in located if loc == "querystring"),
                   tuple(wire for loc, wire in located if loc == "header"))

    def labels_of(self, path: str) -> dict[str, str] | None:
        """The raw (still percent-encoded) URI labels, if `path` matches the template."""
        found = self.path.fullmatch(path)
        return dict(zip(self.labels, found.groups(), strict=True)) if found else None

    def accepts(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return (all(key in query and (not value or query[key] == value)
                    for key, value in self.fixed_query)
                and all(key in query for key in self.query_members)
                and all(key in headers for key in self.header_members))

    @property
    def specificity(self) -> int:
        return len(self.fixed_query) + len(self.query_members) + len(self.header_members)

    def __str__(self) -> str:
        return f"{self.op.name}: {self.method} {self.op.http['requestUri']}"


class RestRouter:
    def __init__(self, model: ServiceModel) -> None:
        # Operations served on another host (S3's WriteGetObjectResponse) are not routed here.
        self.routes = [Route.of(model.operation_model(name)) for name in model.operation_names
                       if "hostPrefix" not in (model.operation_model(name).endpoint or {})]
        self._by_name = {route.op.name: route for route in self.routes}

    def match(self, method: str, path: str, query: Mapping[str, str],
              headers: Mapping[str, str],
              implemented: Collection[str] = ()) -> OperationModel | None:
        """The operation the request calls, or None if no operation matches."""
        candidates = [route for route in self.routes
                      if route.method == method and route.accepts(query, headers)
                      and route.labels_of(path) is not None]
        if not candidates:
            return None
        return max(candidates, key=lambda r: (r.specificity, r.literal, r.op.name in implemented,
                                              not r.op.deprecated)).op

    def labels(self, op: OperationModel, path: str) -> dict[str, str]:
        """The raw (percent-encoded) URI labels of `path` for the operation it matched."""
        return self._by_name[op.name].labels_of(path) or {}

    def claims(self, path: str) -> bool:
        """Whether some operation's path template matches `path` (any method)."""
        return any(route.labels_of(path) is not None for route in self.routes)

    def near(self, path: str, limit: int = 8) -> list[Route]:
        """Routes to name when nothing matched: those sharing the path's first segment."""
        first = path.strip("/").partition("/")[0]
        near = [r for r in self.routes
                if r.op.http["requestUri"].strip("/").partition("/")[0] in (first, "")]
        return (near or self.routes)[:limit]


def decode_label(raw: str) -> str:
    """A URI label's value; UnicodeDecodeError if its bytes are not UTF-8."""
    return unquote_to_bytes(raw.encode("latin-1")).decode()


def read_input(shape: StructureShape, labels: Mapping[str, str],
               query: list[tuple[str, str]], headers: Mapping[str, str]) -> dict[str, Any]:
    """The members that travel outside the body: URI labels (decoded), query string, headers.
    BadValue if a text is not of its member's type."""
    params: dict[str, Any] = {}
    claimed = {member.serialization.get("name", name) for name, member in shape.members.items()
               if member.serialization.get("location") == "querystring"
               and member.type_name != "map"}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri" and wire in labels:
            params[name] = _typed(member, labels[wire], wire, "URI label")
        elif location == "querystring":
            value = _query_member(member, wire, query, claimed)
            if value is not None:
                params[name] = value
        elif location == "header" and wire in headers:
            params[name] = _header_member(member, headers[wire], wire)
        elif location == "headers":
            found = {key[len(wire):]: value for key, value in headers.items()
                     if key.lower().startswith(wire.lower())}
            if found:
                params[name] = found
    return params


def _typed(member: Any, text: str, wire: str, location: str) -> Any:
    try:
        return from_text(member, text)
    except ValueError:
        raise BadValue(wire, location, text, member.type_name) from None


def _query_member(member: Any, wire: str, query: list[tuple[str, str]],
                  claimed: set[str]) -> Any:
    if member.type_name == "map":  # every query parameter no other member names
        values: dict[str, Any] = {}
        for key, text in query:
            if key in claimed:
                continue
            if member.value.type_name == "list":
                values.setdefault(key, []).append(text)
            else:
                values[key] = text
        return values or None
    texts = [text for key, text in query if key == wire]
    if not texts:
        return None
    if member.type_name == "list":
        return [_typed(member.member, text, wire, "query parameter") for text in texts]
    return _typed(member, texts[0], wire, "query parameter")


def _header_member(member: Any, text: str, wire: str) -> Any:
    if member.type_name == "list":
        return [_typed(member.member, item.strip(), wire, "header")
                for item in text.split(",") if item.strip()]
    if member.serialization.get("jsonvalue"):
        try:
            return orjson.loads(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise BadValue(wire, "header", text, "base64 JSON value") from None
    return _typed(member, text, wire, "header")


def write_headers(shape: StructureShape | None, result: Mapping[str, Any]) -> dict[str, str]:
    """The output members that the model sends as headers (timestamps as HTTP dates)."""
    headers: dict[str, str] = {}
    for name, member in (shape.members.items() if shape else ()):
        location = member.serialization.get("location")
        if name not in result or result[name] is None:
            continue
        wire = member.serialization.get("name", name)
        if location == "header":
            headers[wire] = _header_text(member, result[name])
        elif location == "headers":
            headers.update({wire + key: str(value) for key, value in result[name].items()})
    return headers


def _header_text(member: Any, value: Any) -> str:
    if member.type_name == "list":
        return ",".join(to_text(member.member, item, "rfc822") for item in value)
    if member.serialization.get("jsonvalue"):
        return base64.b64encode(orjson.dumps(value)).decode()
    return to_text(member, value, "rfc822")


def status_of(op: OperationModel, result: Mapping[str, Any]) -> int:
    """The status the output's `statusCode` member sets, else the operation's own."""
    shape = op.output_shape
    for name, member in (shape.members.items() if shape else ()):
        if member.serialization.get("location") == "statusCode" and result.get(name) is not None:
            return int(result[name])
    return int(op.http.get("responseCode", 200))


def body_members(shape: StructureShape) -> dict[str, Any]:
    """The members that travel in the body (no location)."""
    return {name: member for name, member in shape.members.items()
            if "location" not in member.serialization}
