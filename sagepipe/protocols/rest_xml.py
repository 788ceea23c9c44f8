"""REST-XML (S3's protocol), read and written from botocore's service model.

The model says where each input member travels (URI label, query string, header, header
prefix, XML payload) and how each output is laid out (headers, element names, flattened
lists, timestamp formats), so member and element names here are botocore's, not guesses.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import xml.etree.ElementTree as ET  # builds XML only; parsing goes through defusedxml
from collections.abc import Mapping
from typing import Any

from botocore.model import Shape, StructureShape
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from sagepipe.errors import AWSError

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def malformed_xml(detail: str) -> AWSError:
    return AWSError("MalformedXML", "The XML you provided was not well-formed or did not "
                    f"validate against our published schema: {detail}")


# Scalars ------------------------------------------------------------------------------------

def parse_timestamp(text: str) -> float:
    """An HTTP date (RFC 7231) or an ISO 8601 time -> epoch seconds; ValueError otherwise."""
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return value.replace(tzinfo=value.tzinfo or dt.UTC).timestamp()


def format_timestamp(epoch: float, style: str) -> str:
    if style == "rfc822":
        return email.utils.formatdate(epoch, usegmt=True)
    if style == "unixTimestamp":
        return str(int(epoch))
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _from_text(shape: Shape, text: str) -> Any:
    """One scalar from its wire text; ValueError if the text is not of the shape's type."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        return int(text)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind == "timestamp":
        return parse_timestamp(text)
    if kind == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _to_text(shape: Shape, value: Any, default_time_format: str) -> str:
    """A scalar's wire text; timestamps are epoch seconds, formatted as the model says."""
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "timestamp":
        return format_timestamp(value, shape.serialization.get("timestampFormat",
                                                               default_time_format))
    return str(value)


# Requests -----------------------------------------------------------------------------------

def read_input(shape: StructureShape, labels: Mapping[str, str], query: Mapping[str, str],
               headers: Mapping[str, str]) -> dict[str, Any]:
    """The members that travel outside the payload: URI labels, query string, headers."""
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "headers":
            found = {key[len(wire):]: value for key, value in headers.items()
                     if key.lower().startswith(wire.lower())}
            if found:
                params[name] = found
            continue
        source = {"uri": labels, "querystring": query, "header": headers}.get(location)
        text = source.get(wire) if source is not None else None
        if text is None:
            continue
        try:
            params[name] = _from_text(member, text)
        except ValueError:
            where = "query parameter" if location == "querystring" else "header"
            raise AWSError("InvalidArgument", f"The {where} {wire} has an invalid value "
                           f"{text!r}: expected a {member.type_name}.",
                           ArgumentName=wire, ArgumentValue=text) from None
    return params


def read_payload(member: Shape, body: bytes) -> dict[str, Any]:
    """An XML payload, checked to be the element the model names for this member."""
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise malformed_xml(str(exc)) from None
    expected = member.serialization.get("name", member.name)
    if _local(root.tag) != expected:
        raise malformed_xml(f"expected a <{expected}> document, got <{_local(root.tag)}>")
    return _from_element(member, root)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _from_element(shape: Shape, element: ET.Element) -> Any:
    if isinstance(shape, StructureShape):
        children = list(element)
        value: dict[str, Any] = {}
        for name, member in shape.members.items():
            tag = member.serialization.get("name", name)
            found = [child for child in children if _local(child.tag) == tag]
            if found and member.type_name == "list" and member.serialization.get("flattened"):
                value[name] = [_from_element(member.member, child) for child in found]
            elif found:
                value[name] = _from_element(member, found[0])
        return value
    if shape.type_name == "list":
        tag = shape.member.serialization.get("name", "member")
        return [_from_element(shape.member, child) for child in element
                if _local(child.tag) == tag]
    text = element.text or ""
    try:
        return _from_text(shape, text)
    except ValueError:
        raise malformed_xml(f"<{_local(element.tag)}> holds {text!r}, not a "
                         f"{shape.type_name}") from None


# Responses ----------------------------------------------------------------------------------

def write_headers(shape: StructureShape | None, result: Mapping[str, Any]) -> dict[str, str]:
    """The output members that the model sends as headers."""
    headers: dict[str, str] = {}
    for name, member in (shape.members.items() if shape else ()):
        location = member.serialization.get("location")
        if name not in result or result[name] is None:
            continue
        wire = member.serialization.get("name", name)
        if location == "header":
            headers[wire] = _to_text(member, result[name], "rfc822")
        elif location == "headers":
            headers.update({wire + key: str(value) for key, value in result[name].items()})
    return headers


def write_body(shape: StructureShape | None, result: Mapping[str, Any], root: str) -> bytes:
    """The output members that travel in the body, under `root` (S3's result element). The
    payload member, if the model names one, is the whole body; a root element named like the
    only body member holds that member's text (S3's GetBucketLocation)."""
    if shape is None:
        return b""
    if payload := shape.serialization.get("payload"):
        shape, result = shape.members[payload], result.get(payload, {})
    members = {name: member for name, member in shape.members.items()
               if "location" not in member.serialization}
    element = ET.Element(root, xmlns=NAMESPACE)
    if list(members) == [root]:
        element.text = _to_text(members[root], result[root], "iso8601") \
            if result.get(root) is not None else None
    else:
        _fill(element, shape, result)
    return ET.tostring(element, encoding="UTF-8", xml_declaration=True)


def _fill(element: ET.Element, shape: StructureShape, value: Mapping[str, Any]) -> None:
    for name, member in shape.members.items():
        if value.get(name) is None or "location" in member.serialization:
            continue
        tag = member.serialization.get("name", name)
        if member.type_name == "list":
            holder = element if member.serialization.get("flattened") else \
                ET.SubElement(element, tag)
            item_tag = tag if member.serialization.get("flattened") else \
                member.member.serialization.get("name", "member")
            for item in value[name]:
                _append(holder, item_tag, member.member, item)
        else:
            _append(element, tag, member, value[name])


def _append(parent: ET.Element, tag: str, shape: Shape, value: Any) -> None:
    child = ET.SubElement(parent, tag)
    if isinstance(shape, StructureShape):
        _fill(child, shape, value)
    else:
        child.text = _to_text(shape, value, "iso8601")


def error_body(err: AWSError, request_id: str) -> bytes:
    """S3's error document: Code, Message, the error's own fields, RequestId."""
    element = ET.Element("Error")
    for tag, text in (("Code", err.code), ("Message", err.message), *err.extra.items(),
                      ("RequestId", request_id)):
        ET.SubElement(element, tag).text = str(text)
    return ET.tostring(element, encoding="UTF-8", xml_declaration=True)
