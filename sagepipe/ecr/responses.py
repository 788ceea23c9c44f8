"""The local ECR on the wire: its AWS API (AWS JSON 1.1: repositories, images, log-in tokens),
and the local image registry's internal routes (plain JSON on the gateway's own signed routes,
sagepipe/internal.py), what a `docker push` to ECR does. The
running local AWS owns the registry; `sagepipe image` and the local CodeBuild's `docker` are
its clients (through `sagepipe.clients.internal`):

    PUT /_sagepipe/images   {"uri": URI, "directory": ABSOLUTE_DIR}   register (or re-point) URI
    GET /_sagepipe/images                                            [{"uri", "directory"}, ...]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse

from sagepipe.ecr.models import Ecr
from sagepipe.edge import AwsService, Handler
from sagepipe.errors import ValidationException
from sagepipe.images import ImageRegistry
from sagepipe.internal import SerializationException

ROUTES = {
    ("PUT", "/_sagepipe/images"): "RegisterImage",
    ("GET", "/_sagepipe/images"): "ListImages",
}


def ecr_service(ecr: Ecr) -> AwsService:
    return AwsService("ecr", "ECR", {
        "GetAuthorizationToken": ecr.get_authorization_token,
        "CreateRepository": ecr.create_repository,
        "DescribeRepositories": ecr.describe_repositories,
        "DeleteRepository": ecr.delete_repository,
        "PutImageTagMutability": ecr.put_image_tag_mutability,
        "PutImageScanningConfiguration": ecr.put_image_scanning_configuration,
        "DescribeImages": ecr.describe_images,
        "ListImages": ecr.list_images,
    })


def image_handlers(images: ImageRegistry) -> dict[str, Handler]:
    return {
        "RegisterImage": lambda p: register_image(images, p["body"]),
        "ListImages": lambda _p: JSONResponse([{"uri": uri, "directory": directory}
                                               for uri, directory in images.all()]),
    }


def register_image(images: ImageRegistry, body: dict[str, Any]) -> dict[str, str]:
    uri, directory = body.get("uri"), body.get("directory")
    if not (isinstance(uri, str) and isinstance(directory, str)):
        raise SerializationException('body must be {"uri": "...", "directory": '
                                     '"/absolute/path"}')
    if not Path(directory).is_absolute():
        raise ValidationException(f"directory {directory} must be an absolute path (the local "
                                  "AWS does not share the caller's working directory)")
    return {"uri": uri, "directory": str(images.register(Path(directory), uri))}
