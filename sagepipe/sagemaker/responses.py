"""The local SageMaker control plane on the wire (AWS JSON 1.1): the table of the operations it
implements, each a backend method that takes the operation's input members and returns its
output members. Anything else SageMaker has answers NotImplemented."""

from __future__ import annotations

from sagepipe.edge import AwsService
from sagepipe.sagemaker.models import SageMakerBackend


def sagemaker_service(backend: SageMakerBackend) -> AwsService:
    jobs, catalog, endpoints = backend.jobs, backend.catalog, backend.endpoints
    return AwsService("sagemaker", "SageMaker", {
        "CreateTrainingJob": jobs.create_training_job,
        "DescribeTrainingJob": jobs.describe_training_job,
        "ListTrainingJobs": jobs.list_training_jobs,
        "StopTrainingJob": jobs.stop_training_job,
        "CreateProcessingJob": jobs.create_processing_job,
        "DescribeProcessingJob": jobs.describe_processing_job,
        "ListProcessingJobs": jobs.list_processing_jobs,
        "StopProcessingJob": jobs.stop_processing_job,
        "CreateTransformJob": jobs.create_transform_job,
        "DescribeTransformJob": jobs.describe_transform_job,
        "ListTransformJobs": jobs.list_transform_jobs,
        "StopTransformJob": jobs.stop_transform_job,
        "CreateModel": catalog.create_model,
        "DescribeModel": catalog.describe_model,
        "ListModels": catalog.list_models,
        "DeleteModel": catalog.delete_model,
        "CreateEndpointConfig": catalog.create_endpoint_config,
        "DescribeEndpointConfig": catalog.describe_endpoint_config,
        "ListEndpointConfigs": catalog.list_endpoint_configs,
        "DeleteEndpointConfig": catalog.delete_endpoint_config,
        "CreateEndpoint": endpoints.create_endpoint,
        "DescribeEndpoint": endpoints.describe_endpoint,
        "ListEndpoints": endpoints.list_endpoints,
        "UpdateEndpoint": endpoints.update_endpoint,
        "DeleteEndpoint": endpoints.delete_endpoint,
    })
