"""botocore's service models, shared by the protocols, the services and the gateway: shapes,
operations, error shapes and signing names come from here instead of being guessed."""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import ServiceModel


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_model(name: str) -> ServiceModel:
    """The model of the service botocore names `name` (`s3`, `sagemaker-runtime`, `sts`)."""
    return _session().get_service_model(name)


@cache
def models_by_signing_name() -> dict[str, ServiceModel]:
    """The first model of each SigV4 signing name (`states` -> stepfunctions), to answer a
    service the local AWS does not emulate in its own protocol."""
    found: dict[str, ServiceModel] = {}
    for name in _session().get_available_services():
        model = service_model(name)
        found.setdefault(model.signing_name or name, model)
    return found


def declared_error_status(model: ServiceModel, code: str) -> int | None:
    """The HTTP status the model declares for the error shape `code`, if it declares one."""
    for shape in model.error_shapes:
        if shape.name == code or shape.metadata.get("error", {}).get("code") == code:
            return shape.metadata.get("error", {}).get("httpStatusCode")
    return None
