"""The manual approval action: a token, the approval request published to the action's
NotificationArn topic through the local SNS (CodePipeline's JSON message for programs, its
e-mail text for e-mail subscriptions, which the local SNS delivers to the home's outbox), then a
wait for PutApprovalResult with that token (`aws codepipeline put-approval-result`, or
`sagepipe approve` / `reject`, which call it). Requests expire after 7 days, as in AWS."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sagepipe.codepipeline.actions import ActionFailed, ActionResult, ActionRun, aws_reason
from sagepipe.config import DEFAULT_PORT

EXPIRY_SECONDS = 7 * 24 * 3600


def manual_approval(run: ActionRun, decision: Any) -> ActionResult:
    """`decision()` reads the answer recorded by PutApprovalResult (None while pending)."""
    token = str(uuid.uuid4())
    expires = time.time() + EXPIRY_SECONDS
    run.record(token=token)
    if run.config.get("NotificationArn"):
        subject, message = request(run, token, expires)
        try:
            run.client("sns").publish(TopicArn=run.config["NotificationArn"], Subject=subject,
                                      Message=message, MessageStructure="json")
        except (ClientError, BotoCoreError) as exc:
            raise ActionFailed(f"Could not publish the approval request to "
                               f"{run.config['NotificationArn']}: {aws_reason(exc)}") from None
    while (answer := decision()) is None:
        if time.time() > expires:
            raise ActionFailed("The approval request expired after 7 days")
        run.sleep()
    if answer["status"] != "Approved":
        raise ActionFailed(f"Rejected: {answer['summary'] or '(no comment)'}", "Rejected")
    return ActionResult(summary=answer["summary"] or "Approved")


def request(run: ActionRun, token: str, expires: float) -> tuple[str, str]:
    """The SNS subject and JSON message (MessageStructure json: `default` for programs,
    `email` for e-mail subscriptions), as CodePipeline publishes them."""
    pipeline, stage, action = run.pipeline.name, run.action.stage, run.action.name
    region, port = run.settings.region, run.settings.port
    console = f"https://console.aws.amazon.com/codepipeline/home?region={region}#/view/{pipeline}"
    deadline = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(expires))
    approval = {"pipelineName": pipeline, "stageName": stage, "actionName": action,
                "token": token, "expires": deadline,
                "externalEntityLink": run.config.get("ExternalEntityLink", ""),
                "approvalReviewLink": f"{console}/{stage}/{action}/approve/{token}",
                "customData": run.config.get("CustomData", "")}
    endpoint = f"--endpoint-url {run.settings.endpoint_url} "
    cli = "sagepipe" + (f" --port {port}" if port != DEFAULT_PORT else "")
    answer = (f"aws {endpoint}codepipeline put-approval-result --pipeline-name {pipeline} "
              f"--stage-name {stage} --action-name {action} --token {token} --result "
              "'summary={},status={}'")
    email = f"""Hello,

The following Approval action is waiting for your response:

--Pipeline Details--

Pipeline name: {pipeline}
Execution ID: {run.execution_id}
Stage name: {stage}
Action name: {action}
Region: {region}

--Approval Details--

Approve:  {answer.format("looks good", "Approved")}
          or {cli} approve --comment 'looks good'
Reject:   {answer.format("why", "Rejected")}
          or {cli} reject --comment 'why'

Additional information: {approval['customData'] or '(none)'}

Content to review: {approval['externalEntityLink'] or '(none)'}

Deadline: This review request will expire on {deadline}

Sincerely,
sagepipe (the local CodePipeline)
"""
    default = json.dumps({"region": region, "consoleLink": console, "approval": approval})
    subject = f"APPROVAL NEEDED: AWS CodePipeline {pipeline} for action {action}"
    return subject[:100], json.dumps({"default": default, "email": email})
