"""The AWS query protocol (CloudFormation's): form-encoded `Action=...` requests, XML answers
`<{Action}Response><{Action}Result>...` with lists as `<member>` items, and errors as
`<ErrorResponse><Error><Type/><Code/><Message/></Error>`, as botocore's query parser reads them.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from typing import Any

from starlette.responses import Response

from sagepipe.errors import AWSError


def error_response(err: AWSError) -> Response:
    root = ET.Element("ErrorResponse")
    error = ET.SubElement(root, "Error")
    sender = "Sender" if err.status < 500 else "Receiver"
    for tag, text in (("Type", sender), ("Code", err.code), ("Message", err.message)):
        ET.SubElement(error, tag).text = text
    ET.SubElement(root, "RequestId").text = str(uuid.uuid4())
    return Response(ET.tostring(root), err.status, media_type="text/xml")


def _fill(parent: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(parent, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(parent, "member"), item)
    else:
        parent.text = str(value)


def result_response(action: str, namespace: str, result: dict[str, Any]) -> Response:
    """`result` (members by name, lists as lists, scalars already in wire text) as XML."""
    root = ET.Element(f"{action}Response", xmlns=namespace)
    _fill(ET.SubElement(root, f"{action}Result"), result)
    ET.SubElement(ET.SubElement(root, "ResponseMetadata"), "RequestId").text = str(uuid.uuid4())
    return Response(ET.tostring(root), media_type="text/xml")
