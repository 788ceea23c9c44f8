"""The errors the local CloudFormation API answers, named by their codes in botocore's model.

Most refusals are CloudFormation's `ValidationError` (400), as in AWS: invalid input, unknown
stacks, a template format error, a stack in a state that refuses the operation, "No updates are
to be performed."
"""

from __future__ import annotations

from sagepipe.errors import ServiceError


class ValidationError(ServiceError):
    pass


class AlreadyExistsException(ServiceError):
    pass


class InsufficientCapabilitiesException(ServiceError):
    pass


class ChangeSetNotFound(ServiceError):
    status = 404


class InvalidChangeSetStatus(ServiceError):
    pass


class TokenAlreadyExistsException(ServiceError):
    pass
