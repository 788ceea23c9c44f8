"""What the local hosting reads from a REST API's OpenAPI (swagger 2.0) definition: the one
Lambda function its proxy integrations call and which routes require SigV4 (IAM) auth.

Definitions the local hosting cannot honour are refused with the reason, rather than served
with a different behaviour: other integration types, several functions, other authorizers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sagepipe.apigateway.exceptions import BadRequestException

FUNCTION_URI = re.compile(r":lambda:path/[^/]+/functions/arn:[^/]+:function:"
                          r"(?P<name>[A-Za-z0-9_-]+)/invocations$")
ANY_METHOD = "x-amazon-apigateway-any-method"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", ANY_METHOD)


def unsupported(message: str) -> BadRequestException:
    return BadRequestException(message)


@dataclass(frozen=True)
class ApiDefinition:
    function: str
    routes: frozenset[tuple[str, str]]  # (path template, METHOD or ANY) the API defines
    iam_routes: frozenset[tuple[str, str]]  # those of them that need SigV4

    def defines(self, route: str, method: str) -> bool:
        return (route, method.upper()) in self.routes or (route, "ANY") in self.routes

    def needs_sigv4(self, route: str, method: str) -> bool:
        return (route, method.upper()) in self.iam_routes or (route, "ANY") in self.iam_routes

    @classmethod
    def parse(cls, body: Any) -> ApiDefinition:
        """Read a definition; BadRequestException naming what is not emulated."""
        if not isinstance(body, dict) or not isinstance(body.get("paths"), dict):
            raise unsupported("DefinitionBody must be an OpenAPI document with `paths` "
                              "(DefinitionUri is not emulated: inline the definition)")
        schemes = body.get("securityDefinitions") or {}
        functions: set[str] = set()
        routes: set[tuple[str, str]] = set()
        iam: set[tuple[str, str]] = set()
        for path, operations in body["paths"].items():
            for method, operation in operations.items():
                if method not in METHODS:
                    continue
                where = f"{method.upper()} {path}"
                routes.add((path, "ANY" if method == ANY_METHOD else method.upper()))
                integration = operation.get("x-amazon-apigateway-integration") or {}
                if integration.get("type") == "mock":
                    continue  # answered by API Gateway itself (CORS preflight): chalice.local too
                found = FUNCTION_URI.search(str(integration.get("uri", "")))
                if integration.get("type") != "aws_proxy" or found is None:
                    raise unsupported(f"{where}: only Lambda proxy integrations (aws_proxy) are "
                                      "emulated locally")
                functions.add(found["name"])
                for requirement in operation.get("security", body.get("security", [])):
                    for name in requirement:
                        cls._check_scheme(where, name, schemes.get(name))
                        iam.add((path, "ANY" if method == ANY_METHOD else method.upper()))
        if len(functions) != 1:
            raise unsupported(f"the API's routes call {len(functions)} functions "
                              f"({', '.join(sorted(functions)) or 'none'}); the local hosting "
                              "serves APIs backed by exactly one (as Chalice packages them)")
        return cls(functions.pop(), frozenset(routes), frozenset(iam))

    @staticmethod
    def _check_scheme(where: str, name: str, scheme: Any) -> None:
        if not isinstance(scheme, dict):
            raise unsupported(f"{where}: security scheme {name!r} is not in securityDefinitions")
        kind = scheme.get("x-amazon-apigateway-authtype")
        if kind != "awsSigv4":
            raise unsupported(f"{where}: security scheme {name!r} ({kind or scheme.get('type')})"
                              " is not emulated locally; only IAM (awsSigv4) auth is")
