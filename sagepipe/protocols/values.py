"""Scalar values between their wire text and Python, as botocore's model types them.

Handlers see timestamps as epoch seconds (float), blobs as bytes, numbers and booleans typed;
they may answer timestamps as epoch seconds or datetimes. Text that is not of the member's type
raises ValueError, which each protocol reports with its own error code.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import math
from collections.abc import Callable
from typing import Any

from botocore.model import Shape

SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def parse_timestamp(value: Any) -> float:
    """Epoch seconds from a number, an epoch string, an HTTP date (RFC 7231) or ISO 8601."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_timestamp_text(value.strip())
    else:
        raise ValueError(value)
    if not math.isfinite(seconds) or abs(seconds) > 253402300799:  # year 9999
        raise ValueError(value)
    return seconds


def _parse_timestamp_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment.replace(tzinfo=moment.tzinfo or dt.UTC).timestamp()


def epoch(value: float | int | dt.datetime) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def format_timestamp(value: float | int | dt.datetime, style: str) -> str | float:
    """A timestamp in the model's format: `unixTimestamp` (a number), `rfc822`, `iso8601`."""
    seconds = epoch(value)
    if style.lower() == "unixtimestamp":
        return int(seconds) if seconds == int(seconds) else round(seconds, 3)
    if style.lower() == "rfc822":
        return email.utils.formatdate(seconds, usegmt=True)
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def decode_blob(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None


def encode_blob(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def from_text(shape: Shape, text: str) -> Any:
    """One scalar from its text in a URI, query string, header or XML element."""
    kind = shape.type_name
    if kind in ("integer", "long", "short", "byte"):
        return int(text)
    if kind in ("float", "double"):
        return SPECIAL_FLOATS.get(text) or float(text)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind == "timestamp":
        return parse_timestamp(text)
    if kind == "blob":
        return decode_blob(text)
    return text


def to_text(shape: Shape, value: Any, timestamp_style: str) -> str:
    """A scalar's text; timestamps in the member's own format, else `timestamp_style`."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(format_timestamp(value, shape.serialization.get("timestampFormat",
                                                                   timestamp_style)))
    if kind == "blob":
        return encode_blob(value)
    if kind in ("float", "double") and isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return str(value)


def walk(shape: Shape | None, value: Any, leaf: Callable[[Shape, Any], Any]) -> Any:
    """`value` with `leaf` applied to each scalar the shape describes; members the shape does
    not know are kept as they are."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {name: walk(members.get(name), item, leaf) for name, item in value.items()}
    if kind == "list" and isinstance(value, list):
        return [walk(shape.member, item, leaf) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: walk(shape.value, item, leaf) for key, item in value.items()}
    if kind in ("structure", "list", "map"):
        return value  # the wrong type: the validator names it
    return leaf(shape, value)


def from_json(shape: Shape, value: Any) -> Any:
    """A JSON scalar as a handler sees it (blobs arrive base64, timestamps as numbers)."""
    kind = shape.type_name
    if kind == "timestamp":
        return parse_timestamp(value)
    if kind == "blob" and isinstance(value, str):
        return decode_blob(value)
    if kind in ("float", "double") and isinstance(value, str) and value in SPECIAL_FLOATS:
        return SPECIAL_FLOATS[value]
    return value


def to_json(shape: Shape, value: Any) -> Any:
    """A handler's scalar as JSON carries it (timestamps as epoch seconds by default)."""
    kind = shape.type_name
    if kind == "timestamp":
        return format_timestamp(value, shape.serialization.get("timestampFormat",
                                                               "unixTimestamp"))
    if kind == "blob" and isinstance(value, bytes | bytearray | str):
        return encode_blob(bytes(value) if not isinstance(value, str) else value)
    if kind in ("float", "double") and isinstance(value, float) and not math.isfinite(value):
        return to_text(shape, value, "")
    return value
