"""The resource providers of the local CloudFormation, by type name: the one registry.

A type listed here is created by its provider; any other type is recorded with its physical
name as `Ref`. To add a type, write its module (a `ResourceProvider` subclass, see base.py) and
add its line below.
"""

from __future__ import annotations

from sagepipe.cloudformation.providers import (
    awslambda,
    codebuild,
    codepipeline,
    ecr,
    iam,
    kms,
    logs,
    s3,
    sagemaker,
    serverless,
    sns,
    stepfunctions,
)
from sagepipe.cloudformation.providers.base import (
    Context,
    Recorded,
    ResourceFailed,
    ResourceProvider,
)

__all__ = ["PROVIDERS", "Context", "ResourceFailed", "ResourceProvider", "provider_for"]

PROVIDERS: dict[str, ResourceProvider] = {provider.type_name: provider for provider in (
    sagemaker.Model(),
    sagemaker.EndpointConfig(),
    sagemaker.Endpoint(),
    awslambda.Function(),
    awslambda.Permission(),
    awslambda.EventInvokeConfig(),
    serverless.ServerlessFunction(),
    serverless.RestApi(),
    stepfunctions.StateMachine(),
    iam.Role(),
    iam.ManagedPolicy(),
    iam.Policy(),
    logs.LogGroup(),
    s3.Bucket(),
    s3.BucketPolicy(),
    sns.Topic(),
    sns.Subscription(),
    sns.TopicPolicy(),
    ecr.Repository(),
    kms.Key(),
    kms.Alias(),
    codebuild.Project(),
    codepipeline.Pipeline(),
)}


def provider_for(type_name: str) -> ResourceProvider:
    """The provider of `type_name`; a recording one for types without their own."""
    return PROVIDERS.get(type_name) or Recorded(type_name)
