"""API Gateway's errors, as the local REST APIs' internal routes answer them (the local
CloudFormation's `AWS::Serverless::Api` reads them): a definition it cannot serve, a port held
by something else, an API or function that does not exist."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class BadRequestException(ServiceError):
    pass


class ConflictException(ServiceError):
    status = 409


class NotFoundException(ServiceError):
    status = 404
