"""The errors InvokeEndpoint answers, with the statuses botocore's sagemaker-runtime model
declares for them."""

from __future__ import annotations

from sagepipe.errors import ServiceError


class ValidationError(ServiceError):
    pass


class ModelError(ServiceError):
    """The model server answered with an error: its status and message travel with it."""

    status = 424


class ServiceUnavailable(ServiceError):
    status = 503


class PayloadTooLarge(ValidationError):
    """A body above InvokeEndpoint's 6 MB: SageMaker's ValidationError, with a 413."""

    code = "ValidationError"
    status = 413
