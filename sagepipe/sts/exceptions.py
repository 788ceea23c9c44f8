"""The errors the local STS answers, as STS's model names them."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class AccessDenied(ServiceError):
    status = 403


class ValidationError(ServiceError):
    pass
