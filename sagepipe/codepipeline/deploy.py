"""The CloudFormation deploy action, calling the local CloudFormation's API through boto3 exactly
as CodePipeline calls CloudFormation in AWS: CREATE_UPDATE, REPLACE_ON_FAILURE, DELETE_ONLY,
CHANGE_SET_REPLACE and CHANGE_SET_EXECUTE; TemplatePath, TemplateConfiguration (Parameters,
Tags), ParameterOverrides with Fn::GetParam and Fn::GetArtifactAtt, Capabilities, RoleArn,
OutputFileName; the stack's outputs become the action's output variables."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagepipe.codepipeline.actions import ActionFailed, ActionResult, ActionRun, aws_reason

SUCCEEDED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
# REPLACE_ON_FAILURE deletes a stack in one of these states before creating it again.
FAILED = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED",
          "UPDATE_ROLLBACK_FAILED"}
MAX_TEMPLATE_BODY = 51_200
NO_UPDATES = "No updates are to be performed"
NO_CHANGES = "didn't contain changes"


def cloudformation(run: ActionRun) -> ActionResult:
    mode, stack = run.config["ActionMode"], run.config["StackName"]
    cfn = run.client("cloudformation")
    try:
        if mode == "DELETE_ONLY":
            _delete(run, cfn, stack)
            return ActionResult(summary=f"Stack {stack} deleted")
        if mode in ("CREATE_UPDATE", "REPLACE_ON_FAILURE"):
            outputs = _deploy(run, cfn, stack, replace=mode == "REPLACE_ON_FAILURE")
        elif mode == "CHANGE_SET_REPLACE":
            _replace_change_set(run, cfn, stack)
            return ActionResult(summary=f"Change set {run.config.get('ChangeSetName')} created")
        elif mode == "CHANGE_SET_EXECUTE":
            outputs = _execute_change_set(run, cfn, stack)
        else:
            raise ActionFailed(f"ActionMode {mode} is not one of CREATE_UPDATE, "
                               "REPLACE_ON_FAILURE, DELETE_ONLY, CHANGE_SET_REPLACE, "
                               "CHANGE_SET_EXECUTE")
    except (ClientError, BotoCoreError) as exc:
        raise ActionFailed(aws_reason(exc)) from None
    if run.config.get("OutputFileName") and run.action.outputs:
        location = run.artifacts.new_location(run.action.outputs[0])
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / run.config["OutputFileName"]).write_text(json.dumps(outputs, indent=2))
            run.artifacts.put_directory(Path(tmp), location)
        return ActionResult(variables=outputs, outputs={run.action.outputs[0]: location})
    return ActionResult(variables=outputs)


def _describe(cfn: Any, stack: str) -> dict[str, Any] | None:
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            return None
        raise


def _settled(run: ActionRun, cfn: Any, stack: str) -> dict[str, Any] | None:
    """The stack once no operation is in progress on it (None: it does not exist)."""
    while (found := _describe(cfn, stack)) and found["StackStatus"].endswith("_IN_PROGRESS") \
            and found["StackStatus"] != "REVIEW_IN_PROGRESS":
        run.sleep()
    return found if found is None or found["StackStatus"] != "DELETE_COMPLETE" else None


def _outcome(run: ActionRun, cfn: Any, stack: str) -> dict[str, str]:
    """The outputs of the operation just started, once it ends; ActionFailed if it failed."""
    found = _settled(run, cfn, stack)
    if found is None or found["StackStatus"] not in SUCCEEDED:
        raise ActionFailed(_failure(cfn, stack, found))
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs") or []}


def _failure(cfn: Any, stack: str, found: dict[str, Any] | None) -> str:
    """What went wrong, as the CloudFormation console would show it: the stack's status and
    reason, and the resources that failed with theirs."""
    if found is None:
        return f"Stack {stack} does not exist"
    message = f"Stack {stack} is in {found['StackStatus']} state"
    if found.get("StackStatusReason"):
        message += f": {found['StackStatusReason']}"
    try:
        events = cfn.describe_stack_events(StackName=found["StackId"])["StackEvents"]
    except (ClientError, BotoCoreError):
        return message
    failures = [f"{e['LogicalResourceId']} {e['ResourceStatus']}: "
                f"{e.get('ResourceStatusReason', '')}" for e in events
                if e["ResourceStatus"].endswith("_FAILED")
                and e["LogicalResourceId"] != found["StackName"]]
    return "; ".join([message, *failures[:3]])


def _delete(run: ActionRun, cfn: Any, stack: str) -> None:
    found = _settled(run, cfn, stack)
    if found is None:
        return
    cfn.delete_stack(StackName=found["StackId"], **_role(run))
    while (gone := cfn.describe_stacks(StackName=found["StackId"])["Stacks"][0])[
            "StackStatus"] == "DELETE_IN_PROGRESS":
        run.sleep()
    if gone["StackStatus"] != "DELETE_COMPLETE":
        raise ActionFailed(_failure(cfn, stack, gone))


def _deploy(run: ActionRun, cfn: Any, stack: str, replace: bool) -> dict[str, str]:
    found = _settled(run, cfn, stack)
    if found is not None and found["StackStatus"] in FAILED:
        if not replace:
            raise ActionFailed(f"Stack {stack} is in {found['StackStatus']} state and can not "
                               "be updated.")
        _delete(run, cfn, stack)
        found = None
    arguments = _stack_arguments(run, stack)
    if found is None:
        cfn.create_stack(**arguments)
    else:
        try:
            cfn.update_stack(**arguments)
        except ClientError as exc:
            if NO_UPDATES not in exc.response.get("Error", {}).get("Message", ""):
                raise
    return _outcome(run, cfn, stack)


def _replace_change_set(run: ActionRun, cfn: Any, stack: str) -> None:
    name = _change_set_name(run)
    found = _settled(run, cfn, stack)
    if found is not None:
        try:
            cfn.delete_change_set(ChangeSetName=name, StackName=stack)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ChangeSetNotFound":
                raise
    change_type = "UPDATE" if found and found["StackStatus"] != "REVIEW_IN_PROGRESS" \
        else "CREATE"
    cfn.create_change_set(ChangeSetName=name, ChangeSetType=change_type,
                          **_stack_arguments(run, stack))
    while (change := cfn.describe_change_set(ChangeSetName=name, StackName=stack))[
            "Status"] in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
        run.sleep()
    if change["Status"] == "FAILED" and NO_CHANGES not in change.get("StatusReason", ""):
        raise ActionFailed(f"Change set {name} of stack {stack} failed: "
                           f"{change.get('StatusReason')}")


def _execute_change_set(run: ActionRun, cfn: Any, stack: str) -> dict[str, str]:
    """Execute the change set; one that holds no change leaves the stack as it is, and the
    action succeeds with its outputs, as in AWS."""
    name = _change_set_name(run)
    change = cfn.describe_change_set(ChangeSetName=name, StackName=stack)
    if change["Status"] != "FAILED" or NO_CHANGES not in change.get("StatusReason", ""):
        cfn.execute_change_set(ChangeSetName=name, StackName=stack)
    return _outcome(run, cfn, stack)


def _change_set_name(run: ActionRun) -> str:
    name = run.config.get("ChangeSetName")
    if not name:
        raise ActionFailed(f"Action configuration for action '{run.action.name}' is missing "
                           "required configuration 'ChangeSetName'")
    return name


def _role(run: ActionRun) -> dict[str, str]:
    return {"RoleARN": run.config["RoleArn"]} if run.config.get("RoleArn") else {}


def _stack_arguments(run: ActionRun, stack: str) -> dict[str, Any]:
    """CreateStack/UpdateStack/CreateChangeSet arguments from the action's configuration."""
    config = run.config
    if not config.get("TemplatePath"):
        raise ActionFailed(f"Action configuration for action '{run.action.name}' is missing "
                           "required configuration 'TemplatePath'")
    body = run.input_file(config["TemplatePath"]).decode()
    if len(body.encode()) > MAX_TEMPLATE_BODY:
        raise ActionFailed(f"Template {config['TemplatePath']} is larger than "
                           f"{MAX_TEMPLATE_BODY} bytes, the most the local deploy passes inline")
    parameters: dict[str, str] = {}
    tags: dict[str, str] = {}
    if config.get("TemplateConfiguration"):
        try:
            conf = json.loads(run.input_file(config["TemplateConfiguration"]))
        except json.JSONDecodeError as exc:
            raise ActionFailed(f"{config['TemplateConfiguration']} is not JSON: {exc}") from None
        parameters.update({k: str(v) for k, v in (conf.get("Parameters") or {}).items()})
        tags.update({k: str(v) for k, v in (conf.get("Tags") or {}).items()})
    parameters.update(_overrides(run, config.get("ParameterOverrides")))
    arguments: dict[str, Any] = {
        "StackName": stack, "TemplateBody": body, **_role(run),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": [c.strip() for c in config.get("Capabilities", "").split(",")
                         if c.strip()]}
    if tags:
        arguments["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return arguments


def _overrides(run: ActionRun, text: str | None) -> dict[str, str]:
    """ParameterOverrides: a JSON object whose values may be Fn::GetParam [artifact, file, key]
    (a value of a JSON file of an input artifact) or Fn::GetArtifactAtt [artifact, attribute]."""
    try:
        overrides = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise ActionFailed(f"ParameterOverrides is not a JSON object: {exc}") from None
    resolved = {}
    for key, value in overrides.items():
        if isinstance(value, dict) and "Fn::GetParam" in value:
            artifact, path, field = value["Fn::GetParam"]
            try:
                value = json.loads(run.input_file(f"{artifact}::{path}"))[field]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ActionFailed(f"Fn::GetParam: {path} of artifact {artifact} has no JSON "
                                   f"key {field}") from None
        elif isinstance(value, dict) and "Fn::GetArtifactAtt" in value:
            artifact, attribute = value["Fn::GetArtifactAtt"]
            location = run.inputs.get(artifact)
            if location is None:
                raise ActionFailed(f"Fn::GetArtifactAtt: {artifact} is not an input artifact")
            value = {"BucketName": location["bucket"], "ObjectKey": location["key"],
                     "URL": f"https://{location['bucket']}.s3.amazonaws.com/{location['key']}"
                     }.get(attribute, "")
        resolved[key] = str(value)
    return resolved
