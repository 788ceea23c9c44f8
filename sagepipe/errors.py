"""Errors that the protocol edges turn into AWS's wire form (JSON `__type` or S3 XML `<Code>`)."""

from __future__ import annotations


class AWSError(Exception):
    """An error a real AWS service would return: its code, an actionable message, an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: str | int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def __repr__(self) -> str:
        return f"AWSError({self.code!r}, {self.message!r}, {self.status})"


def validation(message: str) -> AWSError:
    return AWSError("ValidationException", message)


def not_found(message: str) -> AWSError:
    return AWSError("ResourceNotFound", message)


def in_use(message: str) -> AWSError:
    return AWSError("ResourceInUse", message)
