"""The errors the local SNS answers, with the codes of botocore's model (SNS's wire codes drop
the `Exception` suffix of the shape names)."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class InvalidParameter(ServiceError):
    pass


class NotFound(ServiceError):
    status = 404


class ResourceNotFound(ServiceError):
    status = 404


class TagLimitExceeded(ServiceError):
    pass
