"""The local CloudFormation API (query protocol): DescribeStacks and DeleteStack over the stacks
the local pipeline's CloudFormation actions deploy (stacks.py), so that the pipeline's own
scripts that look at or clear a stack through boto3 (CodePipeline/scripts/
clear_failed_create.py) run unchanged against the local AWS. Deploys stay the pipeline's
actions: every other operation answers NotImplemented.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sagepipe.cloudformation.providers import Context
from sagepipe.cloudformation.stacks import Stacks
from sagepipe.config import Settings, arn
from sagepipe.errors import AWSError
from sagepipe.protocols import query
from sagepipe.protocols.aws_json import service_model
from sagepipe.store import Store

log = logging.getLogger(__name__)

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def _timestamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stack_id(name: str) -> str:
    """A stable stack id in AWS's form (the local store keys stacks by name)."""
    return arn("cloudformation", f"stack/{name}/{uuid.uuid5(uuid.NAMESPACE_URL, name)}")


def stack_summary(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A `Stack` of DescribeStacks' output, in the order of botocore's shape."""
    found: dict[str, Any] = {
        "StackId": stack_id(name), "StackName": name,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v}
                       for k, v in doc.get("Parameters", {}).items()],
        "CreationTime": _timestamp(doc["LastUpdated"]),
        "LastUpdatedTime": _timestamp(doc["LastUpdated"]),
        "StackStatus": doc["Status"]}
    if doc.get("StatusReason"):
        found["StackStatusReason"] = doc["StatusReason"]
    found["Outputs"] = [{"OutputKey": k, "OutputValue": v}
                        for k, v in doc.get("Outputs", {}).items()]
    return found


class CloudFormationService:
    """`Action=DescribeStacks|DeleteStack` requests, answered from the local stacks."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.model = service_model("cloudformation")

    def _stacks(self) -> Stacks:
        # Deleting a stack deletes its SageMaker resources through the local SageMaker API.
        return Stacks(self.store, Context(self.settings, log.info))

    async def __call__(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except AWSError as err:
            return query.error_response(err)
        except Exception:  # a bug of ours: log it here, never send a traceback to the client
            log.exception("internal error in CloudFormation")
            return query.error_response(AWSError(
                "InternalFailure", "sagepipe hit an internal error; see the gateway log "
                "(`sagepipe logs gateway`).", 500))

    async def _dispatch(self, request: Request) -> Response:
        form = {key: values[0] for key, values in parse_qs(
            (await request.body()).decode(errors="replace"), keep_blank_values=True).items()}
        action = form.get("Action", "")
        if action not in self.model.operation_names:
            raise AWSError("InvalidAction", f"CloudFormation has no action {action!r}.")
        if action not in ("DescribeStacks", "DeleteStack"):
            raise AWSError("NotImplemented", "sagepipe's local CloudFormation answers "
                           f"DescribeStacks and DeleteStack only, not {action}: stacks are "
                           "deployed by the pipeline's CloudFormation actions.", 501)
        name = form.get("StackName", "")
        if name.startswith("arn:"):  # a stack id: arn:...:stack/<name>/<uuid>
            name = name.split("/")[1]
        if not name:
            raise AWSError("ValidationError", "StackName is required: the local "
                           "CloudFormation describes and deletes one stack at a time.")
        result = await run_in_threadpool(self._describe if action == "DescribeStacks"
                                         else self._delete, name)
        return query.result_response(action, NAMESPACE, result)

    def _describe(self, name: str) -> dict[str, Any]:
        doc = self._stacks().describe(name)
        if doc is None:
            raise AWSError("ValidationError", f"Stack with id {name} does not exist")
        return {"Stacks": [stack_summary(name, doc)]}

    def _delete(self, name: str) -> dict[str, Any]:
        self._stacks().delete(name)
        return {}
