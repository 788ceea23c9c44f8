"""The local ECR on the wire: its AWS API (AWS JSON 1.1: repositories, images, log-in tokens),
and the local image registry's internal routes (plain JSON on the gateway's own signed routes,
sagepipe/internal.py), what a `docker push` to ECR does. The
running local AWS owns the registry; `sagepipe image` and the local CodeBuild's `docker` are
its clients (through `sagepipe.clients.internal`):

    PUT /_sagepipe/images   {"uri": URI, "directory": ABSOLUTE_DIR,    register (or re-point) URI,
                             "dockerfile": PATH?, "buildArgs": {}?}  built from its Dockerfile:
                                              -> {"uri", "directory", "warnings": [...]}
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


def register_image(images: ImageRegistry, body: dict[str, Any]) -> dict[str, Any]:
    uri, directory = body.get("uri"), body.get("directory")
    dockerfile, build_args = body.get("dockerfile"), body.get("buildArgs", {})
    if not (isinstance(uri, str) and isinstance(directory, str)
            and isinstance(dockerfile, str | None) and isinstance(build_args, dict)
            and all(isinstance(v, str) for v in build_args.values())):
        raise SerializationException('body must be {"uri": "...", "directory": '
                                     '"/absolute/path", "dockerfile"?: "/absolute/path", '
                                     '"buildArgs"?: {"NAME": "value"}}')
    for path in (directory, dockerfile):
        if path is not None and not Path(path).is_absolute():
            raise ValidationException(f"{path} must be an absolute path (the local AWS does "
                                      "not share the caller's working directory)")
    image = images.register(Path(directory), uri, Path(dockerfile) if dockerfile else None,
                            build_args)
    return {"uri": uri, "directory": str(image.directory), "warnings": image.warnings}
