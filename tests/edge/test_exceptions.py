"""Typed errors are declared once per service, and say what botocore's model says: where the
model declares the error shape with a status, the class has that code and that status (so
boto3's typed exceptions and status checks behave as against AWS)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from sagepipe import errors
from sagepipe.errors import ServiceError
from sagepipe.protocols.service_models import declared_error_status, service_model

# exceptions module -> the botocore services whose errors it declares
MODULES = {
    "sagepipe.s3.exceptions": ("s3",),
    "sagepipe.sagemaker.exceptions": ("sagemaker",),
    "sagepipe.runtime.exceptions": ("sagemaker-runtime",),
    "sagepipe.ecr.exceptions": ("ecr",),
    "sagepipe.apigateway.exceptions": ("apigateway",),
    "sagepipe.awslambda.exceptions": ("lambda",),
    "sagepipe.cloudformation.exceptions": ("cloudformation",),
    "sagepipe.codebuild.exceptions": ("codebuild",),
    "sagepipe.codeconnections.exceptions": ("codeconnections", "codestar-connections"),
    "sagepipe.codepipeline.exceptions": ("codepipeline",),
    "sagepipe.sns.exceptions": ("sns",),
    "sagepipe.stepfunctions.exceptions": ("stepfunctions",),
    "sagepipe.logs.exceptions": ("logs",),
    "sagepipe.iam.exceptions": ("iam",),
    "sagepipe.sts.exceptions": ("sts",),
}


def declared_in(module) -> list[type[ServiceError]]:
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, ServiceError) and cls.__module__ == module.__name__]


@pytest.mark.parametrize("module_name, services", MODULES.items())
def test_codes_and_statuses_match_the_model(module_name, services):
    module = importlib.import_module(module_name)
    checked = 0
    for cls in declared_in(module):
        if cls.__name__ != cls.code:
            continue  # a deliberate variant of a code (e.g. the runtime's 413 ValidationError)
        for service in services:
            status = declared_error_status(service_model(service), cls.code)
            if status is not None:
                assert cls.status == status, f"{module_name}.{cls.__name__}"
                checked += 1
    if module_name in ("sagepipe.s3.exceptions", "sagepipe.runtime.exceptions"):
        assert checked >= 3  # these models declare statuses: the test must have looked


def test_a_code_is_declared_once_per_service():
    """One class per code, named after it; a variant (another status) subclasses it."""
    for module_name in MODULES:
        declared = declared_in(importlib.import_module(module_name))
        named = {cls.code: cls for cls in declared if cls.__name__ == cls.code}
        assert len(named) == len([cls for cls in declared if cls.__name__ == cls.code])
        for variant in (cls for cls in declared if cls.__name__ != cls.code):
            assert issubclass(variant, named[variant.code]), variant


def test_common_errors_and_typed_construction():
    assert (errors.InternalFailure.code, errors.InternalFailure.status) == ("InternalFailure",
                                                                            500)
    assert (errors.NotEmulated.code, errors.NotEmulated.status) == ("NotImplemented", 501)
    error = importlib.import_module("sagepipe.s3.exceptions").NoSuchKey("gone", Key="k")
    assert (error.code, error.status, error.message, error.extra) == ("NoSuchKey", 404, "gone",
                                                                      {"Key": "k"})
    assert declared_error_status(service_model("sagemaker-runtime"), "InternalFailure") == 500
