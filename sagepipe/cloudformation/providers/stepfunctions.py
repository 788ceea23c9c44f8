"""`AWS::StepFunctions::StateMachine`, created for real through the local Step Functions API.

The definition comes from `Definition` (an object), `DefinitionString` or
`DefinitionS3Location` (an object of the local S3), with `DefinitionSubstitutions` replacing
each `${Name}`. As in CloudFormation: `Ref` is the ARN, `Fn::GetAtt` gives Arn, Name and
StateMachineRevisionId; the definition, role, logging, tracing and tags change in place
(UpdateStateMachine, TagResource); a new name or type replaces the state machine.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from sagepipe.cloudformation.providers.base import (
    Context,
    ResourceFailed,
    ResourceProvider,
    call,
    generated_name,
)

NAME_LIMIT = 80  # Step Functions' limit on a state machine's name


def _api_shape(value: Any) -> Any:
    """CloudFormation's PascalCase members as the API's camelCase (LoggingConfiguration's
    `Level` -> `level`, `CloudWatchLogsLogGroup` -> `cloudWatchLogsLogGroup`)."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _api_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_api_shape(v) for v in value]
    return value


def _boolean(value: Any) -> Any:
    return value.lower() == "true" if isinstance(value, str) else value


class StateMachine(ResourceProvider):
    type_name = "AWS::StepFunctions::StateMachine"
    name_property = "StateMachineName"
    emulated = True
    updatable = frozenset({"Definition", "DefinitionString", "DefinitionS3Location",
                           "DefinitionSubstitutions", "RoleArn", "LoggingConfiguration",
                           "TracingConfiguration", "Tags"})

    def physical_name(self, logical_id: str, props: dict[str, Any]) -> str:
        return str(props.get(self.name_property) or generated_name(logical_id, NAME_LIMIT))

    def ref(self, ctx: Context, name: str) -> str:
        return ctx.arn("states", f"stateMachine:{name}")

    def attributes(self, ctx: Context, name: str) -> dict[str, str]:
        """StateMachineRevisionId exists once the state machine does."""
        found = {"Arn": self.ref(ctx, name), "Name": name}
        try:
            described = ctx.client("stepfunctions").describe_state_machine(
                stateMachineArn=self.ref(ctx, name))
        except ClientError:
            return found
        return {**found, "StateMachineRevisionId": described["revisionId"]}

    def create(self, ctx: Context, name: str, props: dict[str, Any]) -> None:
        sfn = ctx.client("stepfunctions")
        call(sfn.create_state_machine, name=name, definition=definition(ctx, props),
             roleArn=props.get("RoleArn", ""), type=props.get("StateMachineType", "STANDARD"),
             tags=[{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])],
             **self._configuration(props))

    def update(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        sfn, arn = ctx.client("stepfunctions"), self.ref(ctx, name)
        call(sfn.update_state_machine, stateMachineArn=arn, definition=definition(ctx, new),
             roleArn=new.get("RoleArn", ""), **self._configuration(new))
        old_tags = {t["Key"]: t["Value"] for t in old.get("Tags", [])}
        new_tags = {t["Key"]: t["Value"] for t in new.get("Tags", [])}
        if gone := [k for k in old_tags if k not in new_tags]:
            call(sfn.untag_resource, resourceArn=arn, tagKeys=gone)
        if changed := [{"key": k, "value": v} for k, v in new_tags.items()
                       if old_tags.get(k) != v]:
            call(sfn.tag_resource, resourceArn=arn, tags=changed)

    def delete(self, ctx: Context, name: str) -> None:
        call(ctx.client("stepfunctions").delete_state_machine,
             stateMachineArn=self.ref(ctx, name))  # a missing one is no error, as in AWS

    @staticmethod
    def _configuration(props: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if "LoggingConfiguration" in props:
            logging = _api_shape(props["LoggingConfiguration"])
            if "includeExecutionData" in logging:
                logging["includeExecutionData"] = _boolean(logging["includeExecutionData"])
            found["loggingConfiguration"] = logging
        if "TracingConfiguration" in props:
            found["tracingConfiguration"] = {"enabled": _boolean(
                props["TracingConfiguration"].get("Enabled", False))}
        return found


def definition(ctx: Context, props: dict[str, Any]) -> str:
    """The definition's text from whichever property gives it, substitutions applied."""
    given = [k for k in ("Definition", "DefinitionString", "DefinitionS3Location") if k in props]
    if len(given) != 1:
        raise ResourceFailed("Properties validation failed: exactly one of Definition, "
                             f"DefinitionString and DefinitionS3Location is needed (got "
                             f"{', '.join(given) or 'none'})")
    if "Definition" in props:
        text = json.dumps(props["Definition"])
    elif "DefinitionString" in props:
        text = str(props["DefinitionString"])
    else:
        text = _from_s3(ctx, props["DefinitionS3Location"])
    for key, value in (props.get("DefinitionSubstitutions") or {}).items():
        # Inside a JSON string, as substitutions usually are, the value must stay valid JSON.
        text = text.replace("${" + key + "}", json.dumps(str(value))[1:-1])
    return text


def _from_s3(ctx: Context, location: dict[str, Any]) -> str:
    request = {"Bucket": location.get("Bucket"), "Key": location.get("Key")}
    if location.get("Version"):
        request["VersionId"] = location["Version"]
    body = call(ctx.client("s3").get_object, **request)["Body"].read()
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise ResourceFailed(f"DefinitionS3Location s3://{request['Bucket']}/{request['Key']} "
                             "is not UTF-8 text") from None
