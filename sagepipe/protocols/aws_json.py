"""AWS JSON 1.1 (`X-Amz-Target: Service.Operation`), driven by botocore's own service model.

The operation must exist in botocore's model; its input is checked against the model's input
shape (required members, types, enums, lengths, patterns) before any behaviour runs, and the
output is encoded the way the model says (timestamps as epoch seconds).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

import botocore.session
import orjson
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sagepipe.errors import AWSError, validation

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@cache
def service_model(name: str):  # noqa: ANN201 - botocore's ServiceModel
    return botocore.session.get_session().get_service_model(name)


def operation_name(op: str) -> str:
    """`CreateTrainingJob` -> `create_training_job`: the method a provider implements."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()


def error_response(err: AWSError) -> Response:
    body = {"__type": err.code, "message": err.message, **err.extra}
    return Response(
        orjson.dumps(body),
        status_code=err.status,
        media_type="application/x-amz-json-1.1",
        headers={"x-amzn-ErrorType": err.code},
    )


def _check_constraints(value: Any, shape: Shape, path: str) -> None:
    """What botocore's client-side validator leaves out: enums, max lengths, patterns."""
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _check_constraints(value[name], member, f"{path}.{name}" if path else name)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _check_constraints(item, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            _check_constraints(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "string" and isinstance(value, str):
        meta = shape.metadata
        if shape.enum and value not in shape.enum:
            raise validation(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                             f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        if "max" in meta and len(value) > meta["max"]:
            raise validation(f"Value at '{path}' failed to satisfy constraint: "
                             f"Member must have length less than or equal to {meta['max']}")
        pattern = meta.get("pattern")
        if pattern and not _matches(pattern, value):
            raise validation(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                             f"Member must satisfy regular expression pattern: {pattern}")
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        meta = shape.metadata
        if "max" in meta and value > meta["max"]:
            raise validation(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                             f"Member must have value less than or equal to {meta['max']}")


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct: leave that pattern to the real service
        return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


def validate_input(op: OperationModel, params: dict[str, Any]) -> None:
    if op.input_shape is None:
        return
    report = ParamValidator().validate(params, op.input_shape)
    if report.has_errors():
        raise validation(report.generate_report())
    _check_constraints(params, op.input_shape, "")


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    raise TypeError(type(value))


class JsonProtocolService:
    """Dispatches `Service.Operation` to the providers' snake_case methods (`params -> dict`)."""

    def __init__(self, botocore_name: str, providers: list[object], label: str) -> None:
        self.model = service_model(botocore_name)
        self.providers = providers
        self.label = label

    def _handler(self, op_name: str) -> Handler | None:
        method = operation_name(op_name)
        return next((getattr(p, method) for p in self.providers if hasattr(p, method)), None)

    async def __call__(self, request: Request) -> Response:
        try:
            result = await self._dispatch(request)
        except AWSError as err:
            return error_response(err)
        except Exception:  # a bug of ours: log it here, never send a traceback to the client
            log.exception("internal error in %s", self.label)
            return error_response(AWSError("InternalFailure", "sagepipe hit an internal error; "
                                           "see the gateway log (`sagepipe logs gateway`).", 500))
        return Response(orjson.dumps(result, default=_encode),
                        media_type="application/x-amz-json-1.1")

    async def _dispatch(self, request: Request) -> dict[str, Any]:
        target = request.headers.get("x-amz-target", "")
        op_name = target.rpartition(".")[2]
        if op_name not in self.model.operation_names:
            raise AWSError("UnknownOperationException",
                           f"{self.label} has no operation {op_name!r}.")
        handler = self._handler(op_name)
        if handler is None:
            raise AWSError("NotImplemented", f"sagepipe's local {self.label} does not emulate "
                           f"{op_name}; run it against AWS.", 501)
        body = await request.body()
        try:
            params = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise AWSError("SerializationException", f"Request body is not JSON: {exc}") from None
        if not isinstance(params, dict):
            raise AWSError("SerializationException", "Request body must be a JSON object.")
        validate_input(self.model.operation_model(op_name), params)
        return await run_in_threadpool(handler, params) or {}
