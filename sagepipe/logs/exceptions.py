"""The errors the local CloudWatch Logs answers, as its model names them."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class InvalidParameterException(ServiceError):
    pass


class ResourceNotFoundException(ServiceError):
    pass


class ResourceAlreadyExistsException(ServiceError):
    pass
