"""The serverless resource types of a packaged SAM template (what `chalice package` writes).

The SAM transform itself is not run; its two types are created directly:
`AWS::Serverless::Function` as a function of the local Lambda (its properties translated to
`AWS::Lambda::Function`'s: CodeUri in S3 or InlineCode, Tracing, DeadLetterQueue; a function
without a Role gets the ARN of the role SAM would create, recorded only), and
`AWS::Serverless::Api` as a REST API served on 127.0.0.1 by the local API Gateway (over the
gateway's internal routes: no API Gateway API is emulated), IAM auth enforced. In the stack's
outputs, the API's execute-api URL is replaced by the local address it answers on
(`localize`). Event sources, policies, aliases and deployment preferences are recorded only.
"""

from __future__ import annotations

import re
from typing import Any

from sagepipe.cloudformation.providers.awslambda import Function
from sagepipe.cloudformation.providers.base import Context, ResourceFailed, ResourceProvider

# SAM property -> AWS::Lambda::Function property, where they only differ by name.
SAME_MEANING = ("FunctionName", "Handler", "Runtime", "Environment", "Timeout", "MemorySize",
                "Role", "Description", "Layers", "Architectures", "EphemeralStorage",
                "KmsKeyArn", "VpcConfig", "LoggingConfig", "SnapStart", "PackageType",
                "ReservedConcurrentExecutions", "RecursiveLoop", "RuntimeManagementConfig")


def code_location(value: Any) -> dict[str, str]:
    """SAM's CodeUri once packaged (`s3://bucket/key` or `{Bucket, Key}`) as Lambda's Code."""
    if isinstance(value, dict) and value.get("Bucket") and value.get("Key"):
        return {"S3Bucket": value["Bucket"], "S3Key": value["Key"]}
    if isinstance(value, str) and value.startswith("s3://"):
        bucket, _, key = value.removeprefix("s3://").partition("/")
        return {"S3Bucket": bucket, "S3Key": key}
    raise ResourceFailed(f"CodeUri {value!r} is not in S3: package the template first (`aws "
                         "cloudformation package` uploads the code and rewrites CodeUri, as the "
                         "PackageApi build does)")


class ServerlessFunction(Function):
    type_name = "AWS::Serverless::Function"

    def lambda_properties(self, ctx: Context, name: str, props: dict[str, Any]
                          ) -> dict[str, Any]:
        translated: dict[str, Any] = {k: props[k] for k in SAME_MEANING if k in props}
        translated["Code"] = {"ZipFile": props["InlineCode"]} if "InlineCode" in props \
            else code_location(props.get("CodeUri"))
        translated.setdefault("Role", ctx.arn("iam", f"role/{name}-role"))
        if "Tracing" in props:
            translated["TracingConfig"] = {"Mode": props["Tracing"]}
        if "DeadLetterQueue" in props:
            translated["DeadLetterConfig"] = {"TargetArn": props["DeadLetterQueue"]["TargetArn"]}
        if props.get("Tags"):
            translated["Tags"] = [{"Key": k, "Value": v}
                                  for k, v in {**props["Tags"], "lambda:createdBy": "SAM"}.items()]
        return super().lambda_properties(ctx, name, translated)


class RestApi(ResourceProvider):
    type_name, name_property = "AWS::Serverless::Api", "Name"
    updatable = frozenset({"DefinitionBody", "StageName", "EndpointConfiguration", "Tags",
                           "MinimumCompressionSize", "BinaryMediaTypes", "Description",
                           "TracingEnabled"})
    emulated = True
    path = "serverless/restapis"

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        ctx.internal("PUT", f"{self.path}/{name}", {"StageName": props.get("StageName"),
                                                    "DefinitionBody": props.get("DefinitionBody")})

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.create(ctx, name, new)

    def delete(self, ctx: Context, name: str) -> None:
        try:
            ctx.internal("DELETE", f"{self.path}/{name}")
        except ResourceFailed as exc:
            if not str(exc).startswith("NotFoundException:"):
                raise

    def localize(self, ctx: Context, name: str, value: str) -> str:
        """`value` with this API's `https://<id>.execute-api.<region>.<suffix>/` replaced by
        the local server's `http://127.0.0.1:<port>/`."""
        aws_url = re.compile(rf"https://{re.escape(name)}\.execute-api\.[a-z0-9-]+\."
                             r"amazonaws\.com(?:\.cn)?/")
        if not aws_url.search(value):
            return value
        apis = {api["Id"]: api for api in ctx.internal("GET", self.path)}
        local = (apis.get(name) or {}).get("Url")
        if not local:
            raise ResourceFailed(f"REST API {name} is not serving locally")
        root = local.removesuffix(f"{apis[name]['StageName']}/")
        return aws_url.sub(root, value)
