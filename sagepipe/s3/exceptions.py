"""The errors the local S3 answers, as S3 names them (its XML `<Code>`), with their statuses.

The protocol raises InvalidArgument, InvalidURI, MalformedXML and MethodNotAllowed for
requests it cannot read (`sagepipe.protocols.rest_xml`); they are S3's codes, re-exported here.
"""

from __future__ import annotations

from sagepipe.errors import ServiceError
from sagepipe.protocols.rest_xml import (
    InvalidArgument,
    InvalidURI,
    MalformedXML,
    MethodNotAllowed,
)

__all__ = ["InvalidArgument", "InvalidURI", "MalformedXML", "MethodNotAllowed"]


class AccessDenied(ServiceError):
    status = 403


class BadDigest(ServiceError):
    pass


class BadRequest(ServiceError):
    pass


class BucketAlreadyOwnedByYou(ServiceError):
    status = 409


class BucketNotEmpty(ServiceError):
    status = 409


class EntityTooLarge(ServiceError):
    pass


class EntityTooSmall(ServiceError):
    pass


class IllegalLocationConstraintException(ServiceError):
    pass


class IncompleteBody(ServiceError):
    pass


class InternalError(ServiceError):
    status = 500


class InvalidBucketName(ServiceError):
    pass


class InvalidDigest(ServiceError):
    pass


class InvalidLocationConstraint(ServiceError):
    pass


class InvalidObjectState(ServiceError):
    status = 403


class InvalidPart(ServiceError):
    pass


class InvalidPartOrder(ServiceError):
    pass


class InvalidRange(ServiceError):
    status = 416


class InvalidRequest(ServiceError):
    pass


class InvalidStorageClass(ServiceError):
    pass


class InvalidTag(ServiceError):
    pass


class KeyTooLongError(ServiceError):
    pass


class MalformedPOSTRequest(ServiceError):
    pass


class MaxMessageLengthExceeded(ServiceError):
    pass


class MetadataTooLarge(ServiceError):
    pass


class MissingContentLength(ServiceError):
    status = 411


class NoSuchBucket(ServiceError):
    status = 404


class NoSuchKey(ServiceError):
    status = 404


class NoSuchUpload(ServiceError):
    status = 404


class NoSuchVersion(ServiceError):
    status = 404


class NotModified(ServiceError):
    """Not an error to the client: a 304 without a body (S3 sends it so)."""

    status = 304


class PreconditionFailed(ServiceError):
    status = 412


class XAmzContentSHA256Mismatch(ServiceError):
    pass
