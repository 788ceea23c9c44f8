"""The errors the local Lambda answers, with the codes and statuses of botocore's `lambda` model
(RequestEntityTooLargeException is what Lambda sends for oversized requests, though the model
declares RequestTooLargeException: boto3 users catch the former)."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class InvalidParameterValueException(ServiceError):
    pass


class InvalidRequestContentException(ServiceError):
    """An Invoke payload that is not JSON."""


class ResourceNotFoundException(ServiceError):
    status = 404


class ResourceConflictException(ServiceError):
    status = 409


class PreconditionFailedException(ServiceError):
    """A RevisionId that is not the function's current one."""

    status = 412


class RequestEntityTooLargeException(ServiceError):
    status = 413


class TooManyRequestsException(ServiceError):
    """Every sandbox the function may run is busy for longer than the function's timeout."""

    status = 429


class ServiceException(ServiceError):
    """The local Lambda could not start a sandbox (the machine refused a process)."""

    status = 500
