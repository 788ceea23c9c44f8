"""The errors the local CodePipeline answers, as CodePipeline's model names them."""

from __future__ import annotations

from sagepipe.errors import ServiceError, ValidationException

__all__ = [
    "ActionNotFoundException", "ApprovalAlreadyCompletedException", "ConflictException",
    "DuplicatedStopRequestException", "InvalidActionDeclarationException",
    "InvalidApprovalTokenException", "InvalidNextTokenException",
    "InvalidStageDeclarationException", "InvalidStructureException",
    "NotLatestPipelineExecutionException", "PipelineExecutionNotFoundException",
    "PipelineExecutionNotStoppableException", "PipelineNameInUseException",
    "PipelineNotFoundException", "PipelineVersionNotFoundException", "StageNotFoundException",
    "StageNotRetryableException", "ValidationException",
]


class PipelineNameInUseException(ServiceError):
    pass


class PipelineNotFoundException(ServiceError):
    pass


class PipelineVersionNotFoundException(ServiceError):
    pass


class PipelineExecutionNotFoundException(ServiceError):
    pass


class InvalidStructureException(ServiceError):
    pass


class InvalidStageDeclarationException(ServiceError):
    pass


class InvalidActionDeclarationException(ServiceError):
    pass


class InvalidNextTokenException(ServiceError):
    pass


class StageNotFoundException(ServiceError):
    pass


class ActionNotFoundException(ServiceError):
    pass


class InvalidApprovalTokenException(ServiceError):
    pass


class ApprovalAlreadyCompletedException(ServiceError):
    pass


class StageNotRetryableException(ServiceError):
    pass


class NotLatestPipelineExecutionException(ServiceError):
    pass


class PipelineExecutionNotStoppableException(ServiceError):
    pass


class DuplicatedStopRequestException(ServiceError):
    pass


class ConflictException(ServiceError):
    status = 409
