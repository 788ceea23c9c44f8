"""The errors the local ECR answers, as ECR's model names them."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class ImageNotFoundException(ServiceError):
    pass


class RepositoryAlreadyExistsException(ServiceError):
    pass


class RepositoryNotFoundException(ServiceError):
    pass


class RepositoryNotEmptyException(ServiceError):
    pass


class InvalidParameterException(ServiceError):
    pass
