"""One REST API stage as API Gateway serves it: an HTTP front end (on the API's own
127.0.0.1 port) that authenticates, routes, and turns each request into API Gateway's Lambda
proxy event (REST API payload format 1.0), invokes the route's function in the local Lambda
runtime, and turns the function's proxy response into the HTTP answer.

As API Gateway: a route the API does not define (another path, another method) is a 403
MissingAuthenticationToken whether or not the request is signed, never a 404 or 405 that would
tell an unsigned caller which routes exist; IAM routes need a SigV4 signature of the home's
credentials for `execute-api` (at most 5 minutes old); a function error or a malformed proxy
response is a 502 `Internal server error`; an integration that does not answer within its
timeout (29 s unless the definition says less) is a 504. Not emulated: IAM policy evaluation
(whoever holds the home's credentials may call), throttling, stage variables, custom domains.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sagepipe.apigateway.definition import ApiDefinition, Route
from sagepipe.awslambda.exceptions import RequestEntityTooLargeException
from sagepipe.awslambda.runtime import Invocation
from sagepipe.config import ACCOUNT_ID
from sagepipe.errors import AWSError
from sagepipe.protocols.rest_json import ACCESS_ERRORS
from sagepipe.sigv4 import AccessRefused, Received, Refusal, Signature, verify

MAX_SKEW = dt.timedelta(minutes=5)  # API Gateway's window for a signature's X-Amz-Date
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
MISSING_TOKEN = AccessRefused(Refusal.MISSING, "Missing Authentication Token")

Invoke = Callable[[str, bytes], Invocation]  # (function ARN, event) -> the function's answer


def gateway_answer(status: int, message: str, error_type: str | None = None) -> Response:
    """An answer of API Gateway itself: `{"message": ...}`, with its error type if any."""
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    return Response(json.dumps({"message": message}), status, headers,
                    media_type="application/json")


def forbidden(refused: AccessRefused) -> Response:
    code, _status, message = ACCESS_ERRORS[refused.refusal]
    return gateway_answer(403, message or refused.message, code)


class BadProxyResponse(ValueError):
    """The function answered something that is not a Lambda proxy response."""


@dataclass(frozen=True)
class Stage:
    """What the front end serves: one API's deployed stage."""

    api_id: str
    name: str
    definition: ApiDefinition
    region: str


class FrontEnd:
    """The ASGI application of one stage."""

    def __init__(self, stage: Stage, invoke: Invoke, secrets: Mapping[str, str]) -> None:
        self.stage = stage
        self.invoke = invoke
        self.secrets = secrets
        self.prefix = f"/{stage.name}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return gateway_answer(413, "Request Too Long")
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        inner = raw_path[len(self.prefix):]
        found = self.stage.definition.route(request.method, inner) \
            if raw_path.startswith(self.prefix) and inner[:1] in ("", "/") else None
        route, params = found if found else (None, {})
        signature = None
        if route is None or route.iam:
            try:
                signature = verify(Received(request.method, raw_path, query, request.headers),
                                   self.secrets, body=bytes(body), service="execute-api",
                                   region=self.stage.region, max_skew=MAX_SKEW)
            except AccessRefused as refused:
                return forbidden(refused)
        if route is None:
            return forbidden(MISSING_TOKEN)
        integration = route.integration
        if integration.function is None:  # a mock: API Gateway answers itself (CORS preflight)
            return Response(status_code=integration.mock_status,
                            headers=dict(integration.mock_headers))
        event = self.proxy_event(request, route, params, bytes(body), raw_path, query, signature)
        try:
            with anyio.fail_after(integration.timeout_ms / 1000):
                answer = await anyio.to_thread.run_sync(
                    functools.partial(self.invoke, integration.function,
                                      json.dumps(event).encode()), abandon_on_cancel=True)
        except TimeoutError:
            return gateway_answer(504, "Endpoint request timed out")
        except RequestEntityTooLargeException:
            return gateway_answer(413, "Request Too Long")
        except AWSError:  # the function is missing, throttled, or could not start
            return gateway_answer(500, "Internal server error")
        if answer.function_error:
            return gateway_answer(502, "Internal server error")
        try:
            return proxy_response(answer.payload)
        except BadProxyResponse:
            return gateway_answer(502, "Internal server error")

    def proxy_event(self, request: Request, route: Route, params: Mapping[str, str],
                    body: bytes, raw_path: str, query: str,
                    signature: Signature | None) -> dict[str, Any]:
        """API Gateway's Lambda proxy event for REST APIs (payload format 1.0)."""
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        pairs = parse_qsl(query, keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for name, value in pairs:
            multi_query.setdefault(name, []).append(value)
        binary = self.stage.definition.is_binary(request.headers.get("content-type"))
        now = dt.datetime.now(dt.UTC)
        request_id = str(uuid.uuid4())
        inner = unquote(raw_path[len(self.prefix):]) or "/"
        host = request.headers.get("host", "")
        return {
            "resource": route.path,
            "path": inner,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": dict(pairs) or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": {k: unquote(v) for k, v in params.items()} or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": hashlib.sha256(route.path.encode()).hexdigest()[:6],
                "resourcePath": route.path,
                "httpMethod": request.method,
                "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": unquote(raw_path),
                "accountId": ACCOUNT_ID,
                "protocol": f"HTTP/{request.scope.get('http_version', '1.1')}",
                "stage": self.stage.name,
                "domainPrefix": host.split(".")[0].split(":")[0],
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": identity(request, signature),
                "domainName": host,
                "apiId": self.stage.api_id,
            },
            "body": (base64.b64encode(body).decode() if binary else
                     body.decode(errors="replace")) if body else None,
            "isBase64Encoded": binary and bool(body),
        }


def identity(request: Request, signature: Signature | None) -> dict[str, Any]:
    """requestContext.identity: the caller's address and agent, and for a signed request who
    signed (the home's credentials belong to the local account)."""
    client = request.client
    signed = signature is not None
    key = signature.access_key if signature else None
    return {
        "cognitoIdentityPoolId": None, "cognitoIdentityId": None, "apiKey": None,
        "principalOrgId": None, "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None, "accountId": ACCOUNT_ID if signed else None,
        "caller": key, "accessKey": key, "user": key,
        "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/{key}" if signed else None,
        "sourceIp": client.host if client else "127.0.0.1",
        "userAgent": request.headers.get("user-agent"),
    }


def proxy_response(payload: bytes) -> Response:
    """The HTTP answer a Lambda proxy response describes; BadProxyResponse if it is not one
    (API Gateway's 502)."""
    try:
        answer = json.loads(payload)
    except ValueError:
        raise BadProxyResponse("not JSON") from None
    if not isinstance(answer, dict):
        raise BadProxyResponse("not an object")
    status = answer.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BadProxyResponse("no statusCode")
    body = answer.get("body")
    if body is not None and not isinstance(body, str):
        raise BadProxyResponse("body is not a string")
    raw = (body or "").encode()
    if answer.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True)
        except binascii.Error:
            raise BadProxyResponse("body is not base64") from None
    headers: list[tuple[str, str]] = []
    multi = answer.get("multiValueHeaders") or {}
    single = answer.get("headers") or {}
    if not isinstance(multi, dict) or not isinstance(single, dict):
        raise BadProxyResponse("headers are not objects")
    for name, values in multi.items():
        headers += [(str(name), str(value)) for value in
                    (values if isinstance(values, list) else [values])]
    headers += [(str(name), str(value)) for name, value in single.items()
                if str(name).lower() not in {n.lower() for n, _ in headers}]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", str(uuid.uuid4())))
    response = Response(raw, status)
    try:
        response.raw_headers = [(_header_text(n).lower(), _header_text(v)) for n, v in headers]
    except ValueError:
        raise BadProxyResponse("a header is not HTTP text") from None
    response.raw_headers.append((b"content-length", str(len(raw)).encode()))
    return response


def _header_text(text: str) -> bytes:
    if any(c in text for c in "\r\n\0"):
        raise ValueError(text)
    return text.encode("latin-1")  # UnicodeEncodeError is a ValueError
