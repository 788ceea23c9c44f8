"""The query protocol (`Action=Operation&Version=...&Member.N=...`, form-encoded in the body or
the query string; XML answers): CloudFormation, IAM, STS, SNS.

Input members are flattened as botocore's QuerySerializer writes them (`Tags.member.1.Key`,
`Attributes.entry.1.key`, a flattened list without `member`); answers are
`<OperationResponse><OperationResult>...</OperationResult><ResponseMetadata>...`, errors
`<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # builds XML only; nothing here parses XML
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from botocore.model import OperationModel, ServiceModel, Shape
from starlette.responses import Response

from sagepipe.errors import AWSError, ServiceError
from sagepipe.protocols.validation import validate_input, validation_code
from sagepipe.protocols.values import from_text, to_text
from sagepipe.protocols.wire import AccessErrors, Params, WireRequest, access_error
from sagepipe.sigv4 import AccessRefused, Refusal

FORM = "application/x-www-form-urlencoded"
# The codes of AWS's common errors for query APIs (e.g. the STS API reference's Common Errors).
ACCESS_ERRORS: AccessErrors = {
    Refusal.MISSING: ("MissingAuthenticationToken", 403,
                      "Request is missing Authentication Token"),
    Refusal.INCOMPLETE: ("IncompleteSignature", 400, None),
    Refusal.UNKNOWN_KEY: ("InvalidClientTokenId", 403, None),
    Refusal.MISMATCH: ("SignatureDoesNotMatch", 403, None),
    Refusal.EXPIRED: ("SignatureDoesNotMatch", 403, None),
    Refusal.REQUEST_EXPIRED: ("SignatureDoesNotMatch", 403, None),
    Refusal.PAYLOAD_MISMATCH: ("SignatureDoesNotMatch", 403, None),
    Refusal.FOREIGN_HOST: ("AccessDenied", 403, None),
}


class InvalidAction(ServiceError):
    pass


class MissingAction(ServiceError):
    pass


def form_params(request: WireRequest) -> dict[str, str]:
    """The query string's parameters and, for a form body, the body's."""
    params = dict(request.query_params)
    if request.headers.get("content-type", "").startswith(FORM):
        try:
            params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            raise AWSError("MalformedQueryString", "The form body is not UTF-8.") from None
    return params


class _Flat:
    """The flat `A.member.1.B` parameters, read back into a value of a shape."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params
        self.prefixes = {key.rsplit(".", n)[0] for key in params
                         for n in range(key.count(".") + 1)}

    def read(self, shape: Shape, prefix: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            value = {}
            for name, member in shape.members.items():
                wire = member.serialization.get("name", name)
                item = self.read(member, f"{prefix}.{wire}" if prefix else wire)
                if item is not None:
                    value[name] = item
            return value if value or prefix == "" else None
        if kind == "list":
            return self._list(shape, prefix)
        if kind == "map":
            return self._map(shape, prefix)
        text = self.params.get(prefix)
        if text is None:
            return None
        try:
            return from_text(shape, text)
        except ValueError:
            raise _BadValue(prefix, text, kind) from None

    def _list(self, shape: Any, prefix: str) -> list[Any] | None:
        if self.params.get(prefix) == "":
            return []  # botocore sends an empty list as `Name=`
        if shape.serialization.get("flattened"):
            name = shape.member.serialization.get("name")
            base = ".".join([*prefix.split(".")[:-1], name]) if name else prefix
        else:
            base = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        items, i = [], 1
        while f"{base}.{i}" in self.prefixes:
            items.append(self.read(shape.member, f"{base}.{i}"))
            i += 1
        return items or None

    def _map(self, shape: Any, prefix: str) -> dict[str, Any] | None:
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        items, i = {}, 1
        while f"{base}.{i}" in self.prefixes:
            key = self.read(shape.key, f"{base}.{i}.{key_name}")
            items[key] = self.read(shape.value, f"{base}.{i}.{value_name}")
            i += 1
        return items or None


class _BadValue(ValueError):
    def __init__(self, name: str, text: str, kind: str) -> None:
        super().__init__(f"Parameter {name} has an invalid value {text!r}: expected a {kind}.")


class QueryProtocol:
    name: ClassVar[str] = "query"
    request_id_header: ClassVar[str] = "x-amzn-RequestId"

    def __init__(self, model: ServiceModel | None) -> None:
        """`model` None: a service botocore does not know, answered with errors only."""
        self.model = model
        self.namespace = model.metadata.get("xmlNamespace") if model else None
        self.validation_code = validation_code(model, "ValidationError") if model else ""

    def operation(self, request: WireRequest) -> OperationModel:
        assert self.model is not None
        action = form_params(request).get("Action")
        if not action:
            raise MissingAction("The request must contain the parameter Action.")
        if action not in self.model.operation_names:
            raise InvalidAction(f"The action {action} is not valid for this web service.")
        return self.model.operation_model(action)

    def parse(self, op: OperationModel, request: WireRequest) -> Params:
        if op.input_shape is None:
            return {}
        try:
            params = _Flat(form_params(request)).read(op.input_shape, "") or {}
        except _BadValue as exc:
            raise AWSError(self.validation_code, str(exc)) from None
        validate_input(op, params, self.validation_code)
        return params

    def serialize(self, op: OperationModel, result: Mapping[str, Any],
                  request_id: str) -> Response:
        root = self._element(f"{op.name}Response")
        shape = op.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{op.name}Result")
            _fill(ET.SubElement(root, wrapper), shape, result)
        metadata = ET.SubElement(root, "ResponseMetadata")
        ET.SubElement(metadata, "RequestId").text = request_id
        return self._xml(root, 200, request_id)

    def serialize_error(self, err: AWSError, request_id: str, method: str) -> Response:
        root = self._element("ErrorResponse")
        error = ET.SubElement(root, "Error")
        for tag, text in (("Type", "Sender" if err.status < 500 else "Receiver"),
                          ("Code", err.code), ("Message", err.message)):
            ET.SubElement(error, tag).text = text
        ET.SubElement(root, "RequestId").text = request_id
        return self._xml(root, err.status, request_id)

    def access_error(self, refused: AccessRefused) -> AWSError:
        return access_error(ACCESS_ERRORS, refused)

    def _element(self, tag: str) -> ET.Element:
        return ET.Element(tag, xmlns=self.namespace) if self.namespace else ET.Element(tag)

    def _xml(self, root: ET.Element, status: int, request_id: str) -> Response:
        return Response(ET.tostring(root, encoding="UTF-8", xml_declaration=True), status,
                        media_type="text/xml", headers={self.request_id_header: request_id})


def _fill(element: ET.Element, shape: Any, value: Mapping[str, Any]) -> None:
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _append(element, member.serialization.get("name", name), member, value[name])


def _append(parent: ET.Element, tag: str, shape: Any, value: Any) -> None:
    kind = shape.type_name
    if kind == "list":
        flattened = shape.serialization.get("flattened")
        holder = parent if flattened else ET.SubElement(parent, tag)
        item_tag = shape.member.serialization.get("name", tag if flattened else "member")
        for item in value:
            _append(holder, item_tag, shape.member, item)
    elif kind == "map":
        flattened = shape.serialization.get("flattened")
        holder = parent if flattened else ET.SubElement(parent, tag)
        for key, item in value.items():
            entry = ET.SubElement(holder, tag if flattened else "entry")
            _append(entry, shape.key.serialization.get("name", "key"), shape.key, key)
            _append(entry, shape.value.serialization.get("name", "value"), shape.value, item)
    elif kind == "structure":
        _fill(ET.SubElement(parent, tag), shape, value)
    else:
        ET.SubElement(parent, tag).text = to_text(shape, value, "iso8601")
