"""REST-XML (S3's protocol), read and written from botocore's service model.

The model says where each input member travels (URI label, query string, header, header
prefix, XML payload) and how each output is laid out (headers, element names, flattened
lists, timestamp formats), so member and element names here are botocore's, not guesses.
A streaming payload (S3's object bodies) is left to the handler, which reads it as it arrives.
Errors are S3's `<Error><Code/><Message/>...<RequestId/></Error>`, without a body for HEAD.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # builds XML only; parsing goes through defusedxml
from collections.abc import Mapping
from typing import Any, ClassVar

from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from starlette.responses import Response

from sagepipe.errors import AWSError, ServiceError
from sagepipe.protocols.rest import (
    BadValue,
    RestRouter,
    body_members,
    decode_label,
    read_input,
    status_of,
    write_headers,
)
from sagepipe.protocols.values import from_text, to_text
from sagepipe.protocols.wire import AccessErrors, Params, WireRequest, access_error
from sagepipe.sigv4 import AccessRefused, Refusal

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
# S3's answers (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
ACCESS_ERRORS: AccessErrors = {
    Refusal.MISSING: ("AccessDenied", 403, "Access Denied: the local AWS answers signed "
                      "requests only (credentials: `sagepipe env`)."),
    Refusal.INCOMPLETE: ("AuthorizationHeaderMalformed", 400, None),
    Refusal.UNKNOWN_KEY: ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does "
                          "not exist in our records."),
    Refusal.MISMATCH: ("SignatureDoesNotMatch", 403, None),
    Refusal.EXPIRED: ("RequestTimeTooSkewed", 403, "The difference between the request time "
                      "and the current time is too large."),
    Refusal.REQUEST_EXPIRED: ("AccessDenied", 403, None),
    Refusal.PAYLOAD_MISMATCH: ("XAmzContentSHA256Mismatch", 400, None),
    Refusal.FOREIGN_HOST: ("AccessDenied", 403, None),
}


class MalformedXML(ServiceError):
    pass


class InvalidArgument(ServiceError):
    pass


class InvalidURI(ServiceError):
    pass


class MethodNotAllowed(ServiceError):
    status = 405


def malformed_xml(detail: str) -> MalformedXML:
    return MalformedXML("The XML you provided was not well-formed or did not validate against "
                        f"our published schema: {detail}")


class RestXmlProtocol:
    name: ClassVar[str] = "rest-xml"
    request_id_header: ClassVar[str] = "x-amz-request-id"

    def __init__(self, model: ServiceModel, implemented: frozenset[str] = frozenset(),
                 root_elements: Mapping[str, str] | None = None) -> None:
        """`root_elements`: the element each operation's answer is wrapped in (S3 names them,
        the model does not; botocore reads any)."""
        self.model = model
        self.router = RestRouter(model)
        self.implemented = implemented
        self.root_elements = root_elements or {}

    def operation(self, request: WireRequest) -> OperationModel:
        op = self.router.match(request.method, request.path, dict(request.query_params),
                               request.headers, self.implemented)
        if op is None:
            raise MethodNotAllowed("The specified method is not allowed against this "
                                   "resource.", Method=request.method)
        return op

    def parse(self, op: OperationModel, request: WireRequest) -> Params:
        """The members outside the body, and an XML payload if the operation has one (a blob
        payload is left to the handler: it streams)."""
        shape = op.input_shape
        if shape is None:
            return {}
        try:
            labels = {name: decode_label(value)
                      for name, value in self.router.labels(op, request.path).items()}
        except UnicodeDecodeError:
            raise InvalidURI("Couldn't parse the specified URI: the path is not UTF-8.") \
                from None
        try:
            params = read_input(shape, labels, request.query_params, request.headers)
        except BadValue as exc:
            raise InvalidArgument(str(exc), ArgumentName=exc.wire, ArgumentValue=exc.text) \
                from None
        payload = shape.serialization.get("payload")
        if payload and shape.members[payload].type_name == "structure" and request.body.strip():
            params[payload] = read_payload(shape.members[payload], request.body)
        return params

    def serialize(self, op: OperationModel, result: Mapping[str, Any],
                  request_id: str) -> Response:
        shape = op.output_shape
        headers = {**write_headers(shape, result), self.request_id_header: request_id}
        root = self.root_elements.get(op.name, f"{op.name}Result")
        body = write_body(shape, result, root) if shape is not None and (
            shape.serialization.get("payload") or body_members(shape)) else b""
        return Response(body, status_of(op, result), headers,
                        media_type="application/xml" if body else None)

    def serialize_error(self, err: AWSError, request_id: str, method: str) -> Response:
        headers = {self.request_id_header: request_id}
        if method == "HEAD" or err.status == 304:  # answered without a body
            return Response(status_code=err.status, headers=headers)
        return Response(error_body(err, request_id), err.status, headers,
                        media_type="application/xml")

    def access_error(self, refused: AccessRefused) -> AWSError:
        return access_error(ACCESS_ERRORS, refused, keep_extra=True)


# Requests -----------------------------------------------------------------------------------

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
        return from_text(shape, text)
    except ValueError:
        raise malformed_xml(f"<{_local(element.tag)}> holds {text!r}, not a "
                            f"{shape.type_name}") from None


# Responses ----------------------------------------------------------------------------------

def write_body(shape: StructureShape | None, result: Mapping[str, Any], root: str) -> bytes:
    """The output members that travel in the body, under `root` (S3's result element). The
    payload member, if the model names one, is the whole body; a root element named like the
    only body member holds that member's text (S3's GetBucketLocation)."""
    if shape is None:
        return b""
    if payload := shape.serialization.get("payload"):
        shape, result = shape.members[payload], result.get(payload, {})
    members = body_members(shape)
    element = ET.Element(root, xmlns=NAMESPACE)
    if list(members) == [root]:
        element.text = to_text(members[root], result[root], "iso8601") \
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
        child.text = to_text(shape, value, "iso8601")


def error_body(err: AWSError, request_id: str) -> bytes:
    """S3's error document: Code, Message, the error's own fields, RequestId."""
    element = ET.Element("Error")
    for tag, text in (("Code", err.code), ("Message", err.message), *err.extra.items(),
                      ("RequestId", request_id)):
        ET.SubElement(element, tag).text = str(text)
    return ET.tostring(element, encoding="UTF-8", xml_declaration=True)
