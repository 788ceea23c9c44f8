"""Errors a local service raises and the edge (`sagepipe.edge`) answers in the service's own
wire protocol: JSON `__type`, REST-JSON `x-amzn-ErrorType`, query `<ErrorResponse>`, S3 XML.

Each service declares its errors once, in `sagepipe/<service>/exceptions.py`, as subclasses of
`ServiceError` named like the AWS error code (moto's layout):

    class NoSuchBucket(ServiceError):
        status = 404

    raise NoSuchBucket("The specified bucket does not exist", BucketName=name)

Where botocore's model declares the error shape, code and status match it (a test checks).
The few errors every service can answer are declared here.
"""

from __future__ import annotations


class AWSError(Exception):
    """An error a real AWS service would return: its code, an actionable message, an HTTP
    status, and extra fields the protocol puts beside the message (S3's `<BucketName>`)."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.status})"


class ServiceError(AWSError):
    """A typed error: the subclass names the code (its own name unless it sets `code`) and the
    status once; raising it takes only the message and the extra fields."""

    code = ""
    status = 400

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(type(self).code, message, type(self).status, **extra)


class InternalFailure(ServiceError):
    """A bug of ours; the edge logs the traceback and sends only this."""

    status = 500


class NotEmulated(ServiceError):
    """An operation AWS has and the local AWS does not emulate."""

    code = "NotImplemented"
    status = 501


class ValidationException(ServiceError):
    """Input the service refuses (the code most JSON services use for it)."""

