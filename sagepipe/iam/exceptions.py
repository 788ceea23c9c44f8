"""The errors the local IAM answers, as IAM's model names them (codes and statuses)."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class NoSuchEntity(ServiceError):
    status = 404


class EntityAlreadyExists(ServiceError):
    status = 409


class DeleteConflict(ServiceError):
    status = 409


class MalformedPolicyDocument(ServiceError):
    pass


class InvalidInput(ServiceError):
    pass
