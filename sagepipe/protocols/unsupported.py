"""The answer to a call for a service the local AWS does not emulate, in that service's own
wire protocol (botocore's model says which), so that the SDK shows the message instead of
failing to parse the reply."""

from __future__ import annotations

import uuid
from functools import cache

import botocore.session
from starlette.responses import Response

from sagepipe.errors import AWSError
from sagepipe.protocols import query
from sagepipe.protocols.aws_json import error_response
from sagepipe.protocols.rest_xml import error_body

EMULATED = "s3, sagemaker, sagemaker-runtime, ecr and cloudformation (DescribeStacks, DeleteStack)"


@cache
def _protocols_by_signing_name() -> dict[str, str]:
    session = botocore.session.get_session()
    found: dict[str, str] = {}
    for name in session.get_available_services():
        model = session.get_service_model(name)
        found.setdefault(model.signing_name or name, model.protocol)
    return found


def unsupported_service(service: str) -> Response:
    err = AWSError("NotImplemented", f"sagepipe's local AWS does not emulate the {service} "
                   f"service (it serves {EMULATED}); run this call against AWS.", 501)
    protocol = _protocols_by_signing_name().get(service, "json")
    request_id = str(uuid.uuid4())
    if protocol == "rest-xml":
        return Response(error_body(err, request_id), 501, media_type="application/xml")
    if protocol in ("query", "ec2"):
        return query.error_response(err)
    return error_response(err)
