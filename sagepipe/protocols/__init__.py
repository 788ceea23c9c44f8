"""Wire protocols at the edge, one module each, driven by botocore's service models: each
reads a request into (operation, input members) and writes a handler's output, and any error,
in its wire form.

    aws_json   AWS JSON 1.0/1.1 (X-Amz-Target)         SageMaker, ECR, Logs, Step Functions
    rest_json  REST-JSON (URI, query, headers, JSON)   Lambda, SageMaker Runtime
    query      query (Action=..., XML answers)         CloudFormation, IAM, STS, SNS
    rest_xml   REST-XML                                S3

`rest` holds what the two REST protocols share (routing by URI template, members outside the
body), `values` the scalar conversions, `validation` the input checks, `wire` the interface.
"""

from __future__ import annotations

from collections.abc import Mapping

from botocore.model import ServiceModel

from sagepipe.protocols.aws_json import JsonProtocol
from sagepipe.protocols.query import QueryProtocol
from sagepipe.protocols.rest_json import RestJsonProtocol
from sagepipe.protocols.rest_xml import RestXmlProtocol
from sagepipe.protocols.wire import WireProtocol

__all__ = ["WireProtocol", "protocol_for"]


def protocol_for(model: ServiceModel, implemented: frozenset[str] = frozenset(),
                 root_elements: Mapping[str, str] | None = None) -> WireProtocol:
    """The protocol botocore speaks to this service (`implemented`: the operations the local
    service serves, preferred when a REST request could be either of two)."""
    protocol = model.resolved_protocol
    if protocol == "json":
        return JsonProtocol(model)
    if protocol == "rest-json":
        return RestJsonProtocol(model, implemented)
    if protocol == "query":
        return QueryProtocol(model)
    if protocol == "rest-xml":
        return RestXmlProtocol(model, implemented, root_elements)
    raise ValueError(f"the {model.service_name} service speaks {protocol}, which the local "
                     "AWS does not serve")
