"""The errors the local CodeBuild answers, as CodeBuild's model names them."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class InvalidInputException(ServiceError):
    pass


class ResourceNotFoundException(ServiceError):
    pass


class ResourceAlreadyExistsException(ServiceError):
    pass
