"""The errors the local Step Functions answers, named like botocore's error shapes (all 400s:
its model declares no other status). Input that breaks the model's constraints is answered
by the edge with the common ValidationException, as Step Functions answers it."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class InvalidArn(ServiceError):
    pass


class InvalidName(ServiceError):
    pass


class InvalidDefinition(ServiceError):
    pass


class InvalidExecutionInput(ServiceError):
    pass


class InvalidOutput(ServiceError):
    pass


class InvalidToken(ServiceError):
    pass


class StateMachineAlreadyExists(ServiceError):
    pass


class StateMachineDoesNotExist(ServiceError):
    pass


class StateMachineDeleting(ServiceError):
    pass


class StateMachineTypeNotSupported(ServiceError):
    pass


class ExecutionAlreadyExists(ServiceError):
    pass


class ExecutionDoesNotExist(ServiceError):
    pass


class MissingRequiredParameter(ServiceError):
    pass


class ResourceNotFound(ServiceError):
    pass


class TaskDoesNotExist(ServiceError):
    pass


class TooManyTags(ServiceError):
    pass
