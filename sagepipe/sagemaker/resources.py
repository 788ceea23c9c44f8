"""SageMaker resources (jobs, models, endpoint configs, endpoints) as Describe documents in
SageMaker's own table of the store."""

from __future__ import annotations

from sagepipe.documents import Document, Documents
from sagepipe.sagemaker.exceptions import ResourceInUse, ResourceNotFound
from sagepipe.store import Store

__all__ = ["Document", "Resources"]


class Resources(Documents):
    def __init__(self, store: Store) -> None:
        super().__init__(store, "sagemaker_resources", not_found=ResourceNotFound,
                         in_use=ResourceInUse)
