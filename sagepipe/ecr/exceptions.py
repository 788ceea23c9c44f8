"""The errors the local ECR answers, as ECR's model names them."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class ImageNotFoundException(ServiceError):
    pass
