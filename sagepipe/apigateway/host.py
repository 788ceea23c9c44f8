"""One REST API's server process: its Lambda function's code (an unpacked deployment package)
served on 127.0.0.1 by chalice.local's API Gateway emulation, under the stage's path, with the
API definition's IAM auth checked before the function runs.

The gateway starts it (`python -m sagepipe.apigateway.host SPEC.json`, see models.py). Emulated:
routing, the Lambda proxy event, IAM (SigV4) authentication with API Gateway's 403 answers.
Not emulated: handlers other than Chalice apps, IAM policy evaluation (whoever holds the
home's credentials may invoke), Lambda's timeout, memory limit and cold starts, throttling, API
Gateway's payload limit.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import re
import sys
import uuid
import warnings
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    ForbiddenError,
    LocalGateway,
    RouteMatcher,
    create_local_server,
)

from sagepipe.apigateway.definition import ApiDefinition
from sagepipe.config import HOST
from sagepipe.credentials import home_credentials
from sagepipe.protocols.rest_json import ACCESS_ERRORS
from sagepipe.sigv4 import AccessRefused, Received, Refusal, verify

MAX_SKEW = dt.timedelta(minutes=5)  # API Gateway's window for a signature's X-Amz-Date
# chalice.local lets IAM-authorized routes through with this warning; StageGateway has checked
# the signature by then.
warnings.filterwarnings("ignore", message="IAMAuthorizer is not a supported in local mode")


def forbidden(refused: AccessRefused) -> ForbiddenError:
    """API Gateway's 403: `x-amzn-ErrorType` and `{"message": ...}`."""
    code, _status, message = ACCESS_ERRORS[refused.refusal]
    return ForbiddenError({"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())},
                          json.dumps({"message": message or refused.message}).encode())


MISSING_TOKEN = AccessRefused(Refusal.MISSING, "Missing Authentication Token")


class StageGateway(LocalGateway):
    """chalice.local's gateway behind the stage path (`/<stage>/...`) and the API's auth."""

    def __init__(self, app: Any, config: Config, stage: str, definition: ApiDefinition,
                 region: str, secrets: dict[str, str]) -> None:
        super().__init__(app, config)
        self.prefix = f"/{stage}"
        self.definition = definition
        self.region = region
        self.secrets = secrets
        self.routes = RouteMatcher(list(app.routes))

    def handle_request(self, method: str, path: str, headers: dict[str, Any],
                       body: bytes | None) -> dict[str, Any]:
        """Authenticate, then route, as API Gateway does: a route the API does not define
        (another method, another path) is a 403 MissingAuthenticationToken, never a 404 or a
        405 that would tell an unsigned caller which routes exist."""
        inner = path[len(self.prefix):]
        if not path.startswith(self.prefix) or inner[:1] not in ("", "/", "?"):
            raise forbidden(MISSING_TOKEN)
        inner = inner if inner.startswith("/") else "/" + inner
        try:
            route = self.routes.match_route(inner).route
        except ValueError:
            route = None
        public = route is not None and self.definition.defines(route, method) and \
            not self.definition.needs_sigv4(route, method)
        if not public:
            parts = urlsplit(path)
            try:
                verify(Received(method, parts.path, parts.query,
                                {name.lower(): value for name, value in headers.items()}),
                       self.secrets, body=body or b"", service="execute-api",
                       region=self.region, max_skew=MAX_SKEW)
            except AccessRefused as refused:
                raise forbidden(refused) from None
            if route is None or not self.definition.defines(route, method):
                raise forbidden(MISSING_TOKEN)
        return super().handle_request(method, inner, headers, body)


class Handler(ChaliceRequestHandler):
    """chalice.local's HTTP handler, answering through one shared StageGateway."""

    # It writes headers and body separately: without TCP_NODELAY, each keep-alive answer waits
    # ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def __init__(self, request: Any, client_address: Any, server: Any,
                 gateway: StageGateway) -> None:
        self.local_gateway = gateway
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)


def check_runtime(code: Path) -> None:
    """The package bundles Chalice's runtime (chalice/app.py); the host imports the installed
    one, so say so if they differ: pin the same chalice in pyproject.toml and api.yml."""
    bundled = code / "chalice" / "app.py"
    found = re.search(r"^__version__\b[^'\n]*'([^'\n]+)'", bundled.read_text(), re.MULTILINE) \
        if bundled.is_file() else None
    if found and found[1] != chalice.__version__:
        print(f"warning: the package was built with chalice {found[1]} and is served with "
              f"chalice {chalice.__version__}", file=sys.stderr, flush=True)


def serve(spec: dict[str, Any]) -> None:
    """Import the function's handler from its code directory and serve it until killed."""
    check_runtime(Path(spec["code"]))
    sys.path.insert(0, spec["code"])
    module, _, attribute = spec["handler"].rpartition(".")
    app = getattr(importlib.import_module(module), attribute)
    if not isinstance(app, chalice.Chalice):
        sys.exit(f"handler {spec['handler']} is not a Chalice app: the local hosting serves "
                 "Chalice apps (what `chalice package` packages), not plain Lambda handlers")
    config = Config(chalice_stage=spec["stage"], function_name=spec["function"],
                    user_provided_params={"lambda_timeout": spec["timeout"],
                                          "lambda_memory_size": spec["memory"]})
    gateway = StageGateway(app, config, spec["stage"], ApiDefinition.parse(spec["definition"]),
                           spec["region"], home_credentials(Path(spec["home"])).secrets)
    server = create_local_server(app, config, HOST, spec["port"])
    server.server.RequestHandlerClass = functools.partial(Handler, gateway=gateway)
    server.serve_forever()


if __name__ == "__main__":
    serve(json.loads(Path(sys.argv[1]).read_text()))
