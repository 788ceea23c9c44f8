"""The errors the local CloudFormation API answers: invalid input and unknown stacks are both
CloudFormation's `ValidationError` (400), as in AWS."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class ValidationError(ServiceError):
    pass
