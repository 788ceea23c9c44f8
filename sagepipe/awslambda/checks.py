"""What the local Lambda refuses before it changes anything, with Lambda's own errors and
messages: runtimes it cannot run, settings beyond Lambda's limits or not emulated, reserved
environment variables, Invoke payloads too large or not JSON, a malformed client context."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from sagepipe.awslambda.exceptions import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestEntityTooLargeException,
)
from sagepipe.errors import ValidationException

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # RequestResponse
MAX_ASYNC_PAYLOAD = 1024 * 1024  # Event
MAX_TIMEOUT, MAX_MEMORY = 900, 10240
MAX_ENVIRONMENT = 4096  # bytes of variables, as Lambda measures them
OLDEST_PYTHON = (3, 12)
# Runtimes AWS no longer accepts for new functions (its own message refuses them).
RETIRED = re.compile(r"^python(2\.7|3\.[6-9])$")
RESERVED = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"})
NOT_EMULATED = ("Layers", "FileSystemConfigs", "ImageConfig", "CapacityProviderConfig",
                "DurableConfig", "TenancyConfig", "AcceleratorConfig", "PublishTo")


def invalid(message: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(message)


def check_runtime(runtime: str | None, handler: str | None) -> None:
    if not runtime or not handler:
        raise invalid("Runtime and Handler are mandatory parameters for functions created with "
                      "deployment packages.")
    if RETIRED.match(runtime):
        raise invalid(f"The runtime parameter of {runtime} is no longer supported for creating "
                      "or updating AWS Lambda functions. We recommend you use the new runtime "
                      f"(python3.{OLDEST_PYTHON[1]}) while creating or updating functions.")
    found = re.fullmatch(r"python3\.(\d+)", runtime)
    if not found or int(found[1]) < OLDEST_PYTHON[1]:
        raise invalid(f"The runtime parameter of {runtime} is not emulated locally: "
                      "sagepipe's local Lambda runs Python functions, python3.12 or newer (on "
                      "this machine's Python, with the function's package first on sys.path).")


def check_limits(params: Mapping[str, Any]) -> None:
    for member, wire, limit in (("Timeout", "timeout", MAX_TIMEOUT),
                                ("MemorySize", "memorySize", MAX_MEMORY)):
        value = params.get(member)
        if value is not None and value > limit:
            raise ValidationException(
                f"1 validation error detected: Value '{value}' at '{wire}' failed to satisfy "
                f"constraint: Member must have value less than or equal to {limit}")
    for member in NOT_EMULATED:
        if params.get(member):
            raise invalid(f"{member} is not emulated by sagepipe's local Lambda; deploy this "
                          "function to AWS.")
    if (params.get("LoggingConfig") or {}).get("LogFormat", "Text") != "Text":
        raise invalid("LoggingConfig.LogFormat JSON is not emulated locally; use Text.")
    variables = (params.get("Environment") or {}).get("Variables") or {}
    reserved = sorted(RESERVED & set(variables))
    if reserved:
        raise invalid("Lambda was unable to configure your environment variables because the "
                      "environment variables you have provided contains reserved keys that are "
                      "currently not supported for modification. Reserved keys used in this "
                      f"request: {', '.join(reserved)}")
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENVIRONMENT:
        raise invalid("Lambda was unable to configure your environment variables because the "
                      "environment variables you have provided exceeded the 4KB limit. String "
                      f"measured: {measured[:200]}...")


def checked_payload(payload: bytes, kind: str) -> bytes:
    """An Invoke payload within its invocation type's limit and JSON (an empty one is `{}`);
    Lambda's errors otherwise."""
    limit = MAX_ASYNC_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD
    if len(payload) > limit:
        raise RequestEntityTooLargeException(
            f"{len(payload)} byte payload is too large for the Event invocation type (limit "
            f"{limit} bytes)" if kind == "Event" else
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation")
    payload = payload if payload.strip() else b"{}"
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: "
            f"{exc}") from None
    return payload


def client_context(header: str | None) -> Any:
    """X-Amz-Client-Context: base64 of a JSON object (ClientContext's client/custom/env)."""
    if not header:
        return None
    try:
        value = json.loads(base64.b64decode(header, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object.") from None
    if not isinstance(value, dict):
        raise InvalidRequestContentException(
            "Client context must be a valid Base64-encoded JSON object.")
    return value
