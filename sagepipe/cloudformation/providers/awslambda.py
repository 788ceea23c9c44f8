"""Lambda functions, their permissions and asynchronous-invocation settings, created for real
through the local Lambda API (boto3 from the provider's Context), as CloudFormation's own
handlers do.

`AWS::Lambda::Function`: Code from S3 (S3Bucket/S3Key) or inline (`Code.ZipFile`: the source,
zipped as `index.py`, as CloudFormation does); the other properties are CreateFunction's,
coerced to the API's types; `Ref` is the name, `Fn::GetAtt Arn` the ARN. Updated in place
(code, then configuration, then tags; each waited for with Lambda's waiters) unless the name
changes. `AWS::Lambda::Permission`: AddPermission with the physical name as statement id; any
change replaces it. `AWS::Lambda::EventInvokeConfig`: PutFunctionEventInvokeConfig (retries,
event age, destinations); a new function or qualifier replaces it. Properties Lambda sets
through other APIs (ReservedConcurrentExecutions, RecursiveLoop, RuntimeManagementConfig) are
recorded only, and the deploy log says so.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any, ClassVar

from botocore.exceptions import ClientError, WaiterError

from sagepipe.cloudformation.providers.base import Context, ResourceFailed, ResourceProvider, call
from sagepipe.cloudformation.providers.sagemaker import coerce
from sagepipe.protocols.service_models import service_model

WAIT = {"Delay": 1, "MaxAttempts": 300}
RECORDED_ONLY = ("ReservedConcurrentExecutions", "RecursiveLoop", "RuntimeManagementConfig")
RENAMED = {"KmsKeyArn": "KMSKeyArn"}  # CloudFormation's name -> the API's


def api_params(operation: str, props: dict[str, Any]) -> dict[str, Any]:
    """The members of `props` that `operation` takes, coerced to its input shape."""
    shape = service_model("lambda").operation_model(operation).input_shape
    return coerce({k: v for k, v in props.items() if k in shape.members}, shape)


def inline_zip(source: str) -> bytes:
    """`Code.ZipFile`: the source as `index.py` in a zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("index.py", (2020, 1, 1, 0, 0, 0)), source)
    return buffer.getvalue()


def wait(ctx: Context, waiter: str, name: str, verb: str) -> None:
    lam = ctx.client("lambda")
    try:
        lam.get_waiter(waiter).wait(FunctionName=name, WaiterConfig=WAIT)
    except WaiterError:
        config = lam.get_function_configuration(FunctionName=name)
        reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or "unknown"
        raise ResourceFailed(f"function {name} failed to {verb}: {reason}") from None


class Function(ResourceProvider):
    type_name, name_property = "AWS::Lambda::Function", "FunctionName"
    emulated = True
    replaced_by: ClassVar[frozenset[str]] = frozenset({"FunctionName", "PackageType"})

    def needs_replacement(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        return any(old.get(k) != new.get(k) for k in self.replaced_by)

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        return {"Arn": ctx.arn("lambda", f"function:{name}")}

    def lambda_properties(self, ctx: Context, name: str, props: dict[str, Any]
                          ) -> dict[str, Any]:
        """The function's properties as CreateFunction names them."""
        recorded = [key for key in RECORDED_ONLY if key in props]
        if recorded:
            ctx.log(f"  {name}: {', '.join(recorded)} recorded only (not emulated locally)")
        params = {RENAMED.get(k, k): v for k, v in props.items() if k not in RECORDED_ONLY}
        code = dict(params.get("Code") or {})
        if isinstance(code.get("ZipFile"), str):
            code["ZipFile"] = inline_zip(code["ZipFile"])
        params["Code"] = code
        if isinstance(params.get("Tags"), list):
            params["Tags"] = {tag["Key"]: tag["Value"] for tag in params["Tags"]}
        return params

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        params = api_params("CreateFunction", {**self.lambda_properties(ctx, name, props),
                                               "FunctionName": name})
        call(ctx.client("lambda").create_function, **params)
        wait(ctx, "function_active_v2", name, "create")

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        lam = ctx.client("lambda")
        before = self.lambda_properties(ctx, name, old)
        after = self.lambda_properties(ctx, name, new)
        if before["Code"] != after["Code"]:
            call(lam.update_function_code, **api_params("UpdateFunctionCode", {
                **after["Code"], "FunctionName": name}))
            wait(ctx, "function_updated_v2", name, "update its code")
        reset = {"Environment": {"Variables": {}}, "Description": ""}
        configuration = {**{k: v for k, v in reset.items() if k in before and k not in after},
                         **after, "FunctionName": name}
        call(lam.update_function_configuration,
             **api_params("UpdateFunctionConfiguration", configuration))
        wait(ctx, "function_updated_v2", name, "update its configuration")
        arn = self.attributes(ctx, name)["Arn"]
        old_tags, new_tags = before.get("Tags") or {}, after.get("Tags") or {}
        if set(old_tags) - set(new_tags):
            call(lam.untag_resource, Resource=arn, TagKeys=sorted(set(old_tags) - set(new_tags)))
        if new_tags and new_tags != old_tags:
            call(lam.tag_resource, Resource=arn, Tags=new_tags)

    def delete(self, ctx: Context, name: str) -> None:
        try:
            ctx.client("lambda").delete_function(FunctionName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise ResourceFailed(exc.response["Error"]["Message"]) from None


class Permission(ResourceProvider):
    """A statement of a function's resource policy (recorded by the local Lambda, which does
    not enforce IAM); any change replaces it, as in AWS."""

    type_name = "AWS::Lambda::Permission"
    emulated = True

    def needs_replacement(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        return old != new

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        call(ctx.client("lambda").add_permission,
             **api_params("AddPermission", {**props, "StatementId": name}))

    def delete(self, ctx: Context, name: str) -> None:
        """Remove statement `name` from the function whose policy holds it."""
        lam = ctx.client("lambda")
        for page in lam.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                try:
                    lam.remove_permission(FunctionName=function["FunctionName"],
                                          StatementId=name)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                        raise ResourceFailed(exc.response["Error"]["Message"]) from None
                else:
                    return


class EventInvokeConfig(ResourceProvider):
    """What Lambda does with a function's failed and finished asynchronous invocations
    (retries, maximum age, destinations): PutFunctionEventInvokeConfig. A new function or
    qualifier replaces it, as in AWS."""

    type_name = "AWS::Lambda::EventInvokeConfig"
    emulated = True
    updatable: ClassVar[frozenset[str]] = frozenset({
        "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"})

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        call(ctx.client("lambda").put_function_event_invoke_config,
             **api_params("PutFunctionEventInvokeConfig", props))

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.create(ctx, name, new)  # Put replaces every setting, as the template states them

    def delete(self, ctx: Context, name: str) -> None:
        props = ctx.properties
        try:
            ctx.client("lambda").delete_function_event_invoke_config(
                FunctionName=props["FunctionName"], Qualifier=props["Qualifier"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise ResourceFailed(exc.response["Error"]["Message"]) from None
