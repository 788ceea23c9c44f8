"""The serverless resource types of a packaged SAM template (what `chalice package` writes),
created for real by the local AWS's API hosting (sagepipe/apigateway) over its internal routes.

`AWS::Serverless::Function` becomes a function (code in S3, handler, environment);
`AWS::Serverless::Api` a REST API served on 127.0.0.1 by its function's code, IAM auth enforced.
The SAM transform itself is not run: the function's IAM role and its Lambda permission are
recorded only, like any type the local CloudFormation does not emulate. In the stack's outputs,
the API's execute-api URL is replaced by the local address it answers on (`localize`).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from sagepipe.clients import SigV4
from sagepipe.config import arn

TIMEOUT = httpx.Timeout(120, connect=5)  # creating an API waits for its server to start


def _failed(message: str) -> Exception:
    # Imported here: resource_types imports this module to register its types.
    from sagepipe.cloudformation.resource_types import ResourceFailed

    return ResourceFailed(message)


def _call(sm: Any, method: str, path: str, body: dict[str, Any] | None = None,
          missing_ok: bool = False) -> httpx.Response:
    """An internal route of the gateway the local SageMaker client `sm` talks to."""
    url = f"{sm.meta.endpoint_url}/_sagepipe/serverless/{path}"
    try:
        reply = httpx.request(method, url, json=body, timeout=TIMEOUT, trust_env=False,
                              auth=SigV4.like(sm))
        error = reply.json() if reply.is_error else {}
    except (httpx.HTTPError, ValueError) as exc:
        raise _failed(f"the local AWS did not answer {method} {url}: {exc}") from None
    if error and not (missing_ok and error.get("__type") == "ResourceNotFound"):
        raise _failed(f"{error.get('__type')}: {error.get('message')}")
    return reply


class ServerlessResource:
    type_name = ""
    name_property = ""
    path = ""  # of the internal route
    updatable: frozenset[str] = frozenset()

    def identity(self, name: str) -> tuple[str, dict[str, str]]:
        return name, {}

    def params(self, props: dict[str, Any]) -> dict[str, Any]:
        return props

    def create(self, sm: Any, name: str, props: dict[str, Any]) -> None:
        _call(sm, "PUT", f"{self.path}/{name}", self.params(props))

    def update(self, sm: Any, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.create(sm, name, new)

    def delete(self, sm: Any, name: str) -> None:
        _call(sm, "DELETE", f"{self.path}/{name}", missing_ok=True)


class Function(ServerlessResource):
    type_name, name_property, path = "AWS::Serverless::Function", "FunctionName", "functions"
    updatable = frozenset({"CodeUri", "Handler", "Runtime", "Environment", "Timeout",
                           "MemorySize", "Role", "Tags", "Tracing", "Architectures", "Layers",
                           "Description", "ReservedConcurrentExecutions", "VpcConfig"})

    def identity(self, name: str) -> tuple[str, dict[str, str]]:
        return name, {"Arn": arn("lambda", f"function:{name}")}


class RestApi(ServerlessResource):
    type_name, name_property, path = "AWS::Serverless::Api", "Name", "restapis"
    updatable = frozenset({"DefinitionBody", "StageName", "EndpointConfiguration", "Tags",
                           "MinimumCompressionSize", "BinaryMediaTypes", "Description"})

    def params(self, props: dict[str, Any]) -> dict[str, Any]:
        return {"StageName": props.get("StageName"), "DefinitionBody": props.get("DefinitionBody")}

    def localize(self, sm: Any, name: str, value: str) -> str:
        """`value` with this API's `https://<id>.execute-api.<region>.<suffix>/` replaced by
        the local server's `http://127.0.0.1:<port>/`."""
        aws_url = re.compile(rf"https://{re.escape(name)}\.execute-api\.[a-z0-9-]+\."
                             r"amazonaws\.com(?:\.cn)?/")
        if not aws_url.search(value):
            return value
        apis = {api["Id"]: api for api in _call(sm, "GET", self.path).json()}
        local = (apis.get(name) or {}).get("Url")
        if not local:
            raise _failed(f"REST API {name} is not serving locally")
        root = local.removesuffix(f"{apis[name]['StageName']}/")
        return aws_url.sub(root, value)


TYPES = (Function(), RestApi())
