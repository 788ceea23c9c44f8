"""Manual approval: the SNS email written to a local outbox as a real .eml, then a wait for
`sagepipe approve` / `sagepipe reject` from another terminal."""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from sagepipe.config import DEFAULT_REGION


def approval_email(*, pipeline: str, stage: str, action: str, execution_id: str,
                   recipients: list[str], custom_data: str, link: str,
                   approve_command: str, reject_command: str) -> EmailMessage:
    """The notification CodePipeline sends through SNS, with local commands as the way to act."""
    msg = EmailMessage()
    msg["Subject"] = f"APPROVAL NEEDED: AWS CodePipeline {pipeline} for action {action}"
    msg["From"] = "AWS Notifications <no-reply@sns.amazonaws.com>"
    msg["To"] = ", ".join(recipients) or "undisclosed-recipients:;"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="sagepipe.local")
    expires = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(time.time() + 7 * 86400))
    msg.set_content(f"""Hello,

The following Approval action is waiting for your response:

--Pipeline Details--

Pipeline name: {pipeline}
Execution ID: {execution_id}
Stage name: {stage}
Action name: {action}
Region: {DEFAULT_REGION}

--Approval Details--

Approve:  {approve_command}
Reject:   {reject_command}

Additional information: {custom_data or '(none)'}

Content to review: {link or '(none)'}

Deadline: This review request will expire on {expires}

Sincerely,
sagepipe (local CodePipeline)
""")
    return msg


def write_eml(outbox: Path, execution_id: str, action: str, msg: EmailMessage) -> Path:
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{execution_id}-{action}.eml"
    path.write_bytes(bytes(msg))
    return path
