"""The internal routes of the local REST APIs, for the local CloudFormation's
`AWS::Serverless::Api` (sagepipe/cloudformation/providers/serverless.py) and the CLI: the local
AWS emulates no API Gateway API, so plain JSON on the gateway's own signed routes
(sagepipe/internal.py).

    PUT    /_sagepipe/serverless/restapis/{name}    create or update a REST API and serve it
    DELETE /_sagepipe/serverless/restapis/{name}
    GET    /_sagepipe/serverless/restapis           the APIs and where they serve
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from sagepipe.apigateway.models import ApiHosting
from sagepipe.edge import Handler

ROUTES = {
    ("PUT", "/_sagepipe/serverless/restapis/{name}"): "PutRestApi",
    ("DELETE", "/_sagepipe/serverless/restapis/{name}"): "DeleteRestApi",
    ("GET", "/_sagepipe/serverless/restapis"): "ListRestApis",
}


def serverless_handlers(hosting: ApiHosting) -> dict[str, Handler]:
    return {
        "PutRestApi": lambda p: hosting.put_api(p["name"], p["body"]),
        "DeleteRestApi": lambda p: hosting.delete_api(p["name"]),
        "ListRestApis": lambda _p: JSONResponse(hosting.list_apis()),
    }
