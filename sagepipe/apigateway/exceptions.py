"""The errors of the local Lambda functions and REST APIs: Lambda's and API Gateway's codes for
bad definitions, and the codes the internal routes answer for missing or busy resources (the
local CloudFormation's serverless types read them)."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class BadRequestException(ServiceError):
    """API Gateway's answer to a definition it cannot serve."""


class ConflictException(ServiceError):
    """API Gateway's answer when what the API needs (its port) is held by something else."""

    status = 409


class NotFoundException(ServiceError):
    status = 404


class InvalidParameterValueException(ServiceError):
    """Lambda's answer to a function configuration it refuses."""


class ResourceNotFound(ServiceError):
    pass


class ResourceInUse(ServiceError):
    pass
