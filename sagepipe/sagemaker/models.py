"""The local SageMaker control plane: jobs, the catalog of models and endpoint configurations,
and endpoints, over SageMaker's table of the store."""

from __future__ import annotations

from sagepipe.config import Settings
from sagepipe.images import ImageRegistry
from sagepipe.s3.object_store import ObjectStore
from sagepipe.sagemaker.catalog import ModelCatalog
from sagepipe.sagemaker.endpoints import Endpoints
from sagepipe.sagemaker.jobs import Jobs
from sagepipe.sagemaker.resources import Resources
from sagepipe.store import Store


class SageMakerBackend:
    def __init__(self, store: Store, settings: Settings, s3: ObjectStore,
                 images: ImageRegistry) -> None:
        self.resources = Resources(store)
        self.catalog = ModelCatalog(self.resources, settings, s3, images)
        self.jobs = Jobs(self.resources, settings, s3, images, self.catalog)
        self.endpoints = Endpoints(self.catalog, settings, s3, images)

    def start(self) -> None:
        """Settle jobs the last run left behind and bring every endpoint back up."""
        self.jobs.start()
        self.endpoints.start()

    def shutdown(self) -> None:
        self.jobs.shutdown()
        self.endpoints.shutdown()
