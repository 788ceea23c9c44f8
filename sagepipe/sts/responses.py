"""The local STS on the wire (query protocol): its handler table. GetCallerIdentity reads who
signed the request, so its handler sees the request."""

from __future__ import annotations

from sagepipe.edge import AwsService, RequestContext
from sagepipe.protocols.wire import Params
from sagepipe.sts import sessions
from sagepipe.sts.models import Sts


def sts_service(sts: Sts) -> AwsService:
    async def get_caller_identity(context: RequestContext, _params: Params) -> Params:
        assert context.signature is not None  # the edge verified it
        token = sessions.request_token(context.request.headers, context.request.url.query)
        return sts.caller_identity(context.signature.access_key, token)

    return AwsService("sts", "STS", {
        "GetCallerIdentity": get_caller_identity,
        "AssumeRole": sts.assume_role,
    })
