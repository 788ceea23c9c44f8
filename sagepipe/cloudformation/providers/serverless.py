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

from sagepipe.cloudformation.providers.base import Context, ResourceFailed, ResourceProvider


class ServerlessResource(ResourceProvider):
    path = ""  # of the internal route, under /_sagepipe/serverless/
    updatable = frozenset[str]()
    emulated = True

    def params(self, props: dict[str, Any]) -> dict[str, Any]:
        return props

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        ctx.internal("PUT", f"serverless/{self.path}/{name}", self.params(props))

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.create(ctx, name, new)

    def delete(self, ctx: Context, name: str) -> None:
        try:
            ctx.internal("DELETE", f"serverless/{self.path}/{name}")
        except ResourceFailed as exc:
            if not str(exc).startswith("ResourceNotFound:"):
                raise


class Function(ServerlessResource):
    type_name, name_property, path = "AWS::Serverless::Function", "FunctionName", "functions"
    updatable = frozenset({"CodeUri", "Handler", "Runtime", "Environment", "Timeout",
                           "MemorySize", "Role", "Tags", "Tracing", "Architectures", "Layers",
                           "Description", "ReservedConcurrentExecutions", "VpcConfig"})

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("lambda", f"function:{name}")}


class RestApi(ServerlessResource):
    type_name, name_property, path = "AWS::Serverless::Api", "Name", "restapis"
    updatable = frozenset({"DefinitionBody", "StageName", "EndpointConfiguration", "Tags",
                           "MinimumCompressionSize", "BinaryMediaTypes", "Description"})

    def params(self, props: dict[str, Any]) -> dict[str, Any]:
        return {"StageName": props.get("StageName"), "DefinitionBody": props.get("DefinitionBody")}

    def localize(self, ctx: Context, name: str, value: str) -> str:
        """`value` with this API's `https://<id>.execute-api.<region>.<suffix>/` replaced by
        the local server's `http://127.0.0.1:<port>/`."""
        aws_url = re.compile(rf"https://{re.escape(name)}\.execute-api\.[a-z0-9-]+\."
                             r"amazonaws\.com(?:\.cn)?/")
        if not aws_url.search(value):
            return value
        apis = {api["Id"]: api for api in ctx.internal("GET", f"serverless/{self.path}")}
        local = (apis.get(name) or {}).get("Url")
        if not local:
            raise ResourceFailed(f"REST API {name} is not serving locally")
        root = local.removesuffix(f"{apis[name]['StageName']}/")
        return aws_url.sub(root, value)
