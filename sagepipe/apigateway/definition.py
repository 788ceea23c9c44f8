"""What the local API Gateway reads of a REST API's OpenAPI (swagger 2.0) definition: its
routes (path templates and methods), each route's integration (the Lambda function a proxy
integration invokes, with its timeout; or a mock integration's fixed answer), which routes
require SigV4 (IAM) auth, and the binary media types.

Definitions the local API Gateway cannot honour are refused with the reason, rather than served
with another behaviour: integration types other than `aws_proxy` to Lambda and `mock`,
authorizers other than IAM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sagepipe.apigateway.exceptions import BadRequestException

FUNCTION_URI = re.compile(r":lambda:path/[^/]+/functions/(?P<arn>arn:[^/]+:function:"
                          r"[A-Za-z0-9_-]+(?::[A-Za-z0-9_$-]+)?)/invocations$")
ANY_METHOD = "x-amazon-apigateway-any-method"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", ANY_METHOD)
LABEL = re.compile(r"^\{([A-Za-z0-9_.-]+)(\+?)\}$")
MAX_TIMEOUT_MS = 29_000  # API Gateway's default (and, unless raised, highest) integration timeout


@dataclass(frozen=True)
class Integration:
    function: str | None  # a Lambda proxy integration's function ARN; None for a mock
    timeout_ms: int = MAX_TIMEOUT_MS
    mock_status: int = 200
    mock_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Route:
    path: str  # the template, as the definition writes it (`/users/{id}`)
    method: str  # upper case, or ANY
    integration: Integration
    iam: bool
    segments: tuple[tuple[str, str], ...]  # (kind, text): literal / param / greedy

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """The path parameters if the request's path segments fit this template."""
        params: dict[str, str] = {}
        for i, (kind, text) in enumerate(self.segments):
            if kind == "greedy":
                rest = segments[i:]
                if not rest:
                    return None
                params[text] = "/".join(rest)
                return params
            if i >= len(segments):
                return None
            if kind == "literal" and segments[i] != text:
                return None
            if kind == "param":
                params[text] = segments[i]
        return params if len(segments) == len(self.segments) else None

    @property
    def precedence(self) -> tuple[int, ...]:
        """Literal segments win over parameters, parameters over a greedy `{proxy+}`."""
        rank = {"literal": 2, "param": 1, "greedy": 0}
        return tuple(rank[kind] for kind, _ in self.segments)


def unsupported(message: str) -> BadRequestException:
    return BadRequestException(message)


@dataclass(frozen=True)
class ApiDefinition:
    routes: tuple[Route, ...]
    binary_media_types: tuple[str, ...]

    @property
    def functions(self) -> frozenset[str]:
        """The ARNs of the functions the routes invoke."""
        return frozenset(r.integration.function for r in self.routes if r.integration.function)

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route a request takes, with its path parameters (still percent-encoded)."""
        segments = [part for part in path.split("/") if part]
        found = [(route, params) for route in self.routes
                 if route.method in (method.upper(), "ANY")
                 and (params := route.match(segments)) is not None]
        if not found:
            return None
        return max(found, key=lambda hit: (hit[0].precedence, hit[0].method != "ANY"))

    def is_binary(self, content_type: str | None) -> bool:
        media = (content_type or "").split(";")[0].strip().lower()
        for pattern in self.binary_media_types:
            kind, _, sub = pattern.lower().partition("/")
            want_kind, _, want_sub = media.partition("/")
            if kind in ("*", want_kind) and sub in ("*", want_sub) and media:
                return True
        return False

    @classmethod
    def parse(cls, body: Any) -> ApiDefinition:
        """Read a definition; BadRequestException naming what is not emulated."""
        if not isinstance(body, dict) or not isinstance(body.get("paths"), dict):
            raise unsupported("DefinitionBody must be an OpenAPI document with `paths` "
                              "(DefinitionUri is not emulated: inline the definition)")
        schemes = body.get("securityDefinitions") or {}
        routes = []
        for path, operations in body["paths"].items():
            segments = _segments(str(path))
            for method, operation in (operations or {}).items():
                if method not in METHODS:
                    continue
                where = f"{method.upper()} {path}"
                iam = False
                for requirement in operation.get("security", body.get("security", [])):
                    for name in requirement:
                        _check_scheme(where, name, schemes.get(name))
                        iam = True
                routes.append(Route(str(path), "ANY" if method == ANY_METHOD else method.upper(),
                                    _integration(where, operation), iam, segments))
        return cls(tuple(routes), tuple(body.get("x-amazon-apigateway-binary-media-types", [])))


def _segments(path: str) -> tuple[tuple[str, str], ...]:
    parts = [part for part in path.split("/") if part]
    segments = []
    for i, part in enumerate(parts):
        label = LABEL.match(part)
        if label is None:
            segments.append(("literal", part))
        elif label[2] and i != len(parts) - 1:
            raise unsupported(f"{path}: a greedy path variable must be the last segment")
        else:
            segments.append(("greedy" if label[2] else "param", label[1]))
    return tuple(segments)


def _integration(where: str, operation: dict[str, Any]) -> Integration:
    integration = operation.get("x-amazon-apigateway-integration") or {}
    if integration.get("type") == "mock":
        default = (integration.get("responses") or {}).get("default") or {}
        headers = tuple(
            (name.removeprefix("method.response.header."), str(value).strip("'"))
            for name, value in (default.get("responseParameters") or {}).items()
            if name.startswith("method.response.header."))
        return Integration(None, mock_status=int(default.get("statusCode", 200)),
                           mock_headers=headers)
    found = FUNCTION_URI.search(str(integration.get("uri", "")))
    if integration.get("type") != "aws_proxy" or found is None:
        raise unsupported(f"{where}: only Lambda proxy integrations (aws_proxy) and mock "
                          "integrations are emulated locally")
    timeout = int(integration.get("timeoutInMillis", MAX_TIMEOUT_MS))
    if not 50 <= timeout <= MAX_TIMEOUT_MS:
        raise unsupported(f"{where}: timeoutInMillis {timeout} must be from 50 to "
                          f"{MAX_TIMEOUT_MS}")
    return Integration(found["arn"], timeout_ms=timeout)


def _check_scheme(where: str, name: str, scheme: Any) -> None:
    if not isinstance(scheme, dict):
        raise unsupported(f"{where}: security scheme {name!r} is not in securityDefinitions")
    kind = scheme.get("x-amazon-apigateway-authtype")
    if kind != "awsSigv4":
        raise unsupported(f"{where}: security scheme {name!r} ({kind or scheme.get('type')})"
                          " is not emulated locally; only IAM (awsSigv4) auth is")
