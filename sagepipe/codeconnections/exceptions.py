"""The errors the local CodeConnections answers, as its model names them (the same shapes in
`codeconnections` and `codestar-connections`)."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class ResourceNotFoundException(ServiceError):
    status = 404


class UnsupportedOperationException(ServiceError):
    pass


class InvalidInputException(ServiceError):
    pass
