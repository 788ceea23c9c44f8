"""The errors the local SageMaker control plane answers (its model declares these shapes);
input it refuses is the common ValidationException, as in SageMaker."""

from __future__ import annotations

from sagepipe.errors import NotEmulated, ServiceError, ValidationException

__all__ = ["NotEmulated", "ResourceInUse", "ResourceNotFound", "ValidationException"]


class ResourceNotFound(ServiceError):
    pass


class ResourceInUse(ServiceError):
    pass
