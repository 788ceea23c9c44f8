"""The local STS: GetCallerIdentity answers for the home's credentials (the local account's one
user) or for a role session; AssumeRole hands out session credentials that the local AWS
accepts (sessions.py) for a role of the local IAM. Trust policies are recorded, not evaluated:
the local AWS does not enforce IAM."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sagepipe.config import ACCOUNT_ID, arn
from sagepipe.iam.models import unique_id
from sagepipe.sts import sessions
from sagepipe.sts.exceptions import AccessDenied, ValidationError

Params = dict[str, Any]
LOCAL_USER = "sagepipe"  # the IAM user the home's credentials stand for
MIN_DURATION = 900


class Sts:
    def __init__(self, home_secret: str, find_role: Callable[[str], Params | None]) -> None:
        self.home_secret = home_secret
        self.find_role = find_role

    def caller_identity(self, access_key_id: str, token: str | None) -> Params:
        """Who signed: a role session (its token says which), else the local user."""
        session = sessions.read_token(self.home_secret, token) if token else None
        if session is not None and session.access_key_id == access_key_id:
            return {"UserId": session.user_id, "Account": ACCOUNT_ID, "Arn": session.arn}
        return {"UserId": unique_id("AIDA", LOCAL_USER), "Account": ACCOUNT_ID,
                "Arn": arn("iam", f"user/{LOCAL_USER}")}

    def assume_role(self, params: Params) -> Params:
        role_arn = params["RoleArn"]
        role = self.find_role(role_arn)
        if role is None:
            raise AccessDenied(f"User: {arn('iam', f'user/{LOCAL_USER}')} is not authorized to "
                               f"perform: sts:AssumeRole on resource: {role_arn} (the local "
                               "IAM has no such role: create it first).")
        duration = params.get("DurationSeconds", 3600)
        if not MIN_DURATION <= duration <= role["MaxSessionDuration"]:
            raise ValidationError(f"The requested DurationSeconds exceeds the "
                                  f"MaxSessionDuration set for this role "
                                  f"({role['MaxSessionDuration']} s); ask for {MIN_DURATION} "
                                  "seconds or more, up to it.")
        session, secret, token = sessions.issue(self.home_secret, role["Arn"], role["RoleId"],
                                                params["RoleSessionName"], duration)
        return {"Credentials": {"AccessKeyId": session.access_key_id, "SecretAccessKey": secret,
                                "SessionToken": token, "Expiration": session.expires},
                "AssumedRoleUser": {"AssumedRoleId": session.user_id, "Arn": session.arn}}
