"""The body of POST /predict: `{"records": [{"Pclass": 1, "Sex": "female", "Age": 29}, ...]}`.

Every problem is a 400 (413 for an oversized body) whose message names the record and field
and says what is accepted, so a client can fix its request without reading this code.
"""

from __future__ import annotations

import json
import math
from typing import Any

from chalice import BadRequestError
from chalicelib.errors import PayloadTooLargeError

MAX_BODY_BYTES = 64 * 1024
MAX_RECORDS = 100
MAX_AGE = 120
PASSENGER_CLASSES = (1, 2, 3)
SEXES = ("female", "male")
FIELDS = ("Pclass", "Sex", "Age")
REQUIRED = ("Pclass", "Sex")  # Age may be null or left out: the model imputes it
SHAPE = '{"records": [{"Pclass": 1|2|3, "Sex": "female"|"male", "Age": years or null}, ...]}'


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number (send null for an unknown Age)")


def _load(body: bytes | None) -> Any:
    if not body:
        raise BadRequestError(f"empty body: send {SHAPE}")
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"body is {len(body)} bytes; at most {MAX_BODY_BYTES} are "
                                   f"accepted ({MAX_RECORDS} records fit well within that)")
    try:
        return json.loads(body, parse_constant=_no_constants)
    except ValueError as exc:  # malformed, NaN/Infinity, or not UTF-8
        raise BadRequestError(f"body is not valid JSON: {exc}") from None
    except RecursionError:  # the parser recurses once per level: ~1,000 levels exhaust it
        raise BadRequestError(f"body nests arrays or objects too deeply to parse; the body is "
                              f"{SHAPE}, three levels deep") from None


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")


def _shown(value: Any) -> str:
    """A field's value as JSON for a message: a scalar in full (long text cut), an array or
    object by its type only (it may be nested deep or be most of the body)."""
    if isinstance(value, list | dict):
        return f"an {_type_name(value)}"
    if isinstance(value, str) and len(value) > 40:
        return f"{json.dumps(value[:40])[:-1]}...\" ({len(value)} characters)"
    return json.dumps(value)


def _pclass(where: str, value: Any) -> int:
    if type(value) is not int or value not in PASSENGER_CLASSES:
        raise BadRequestError(f"{where}.Pclass must be the integer 1, 2 or 3, "
                              f"got {_shown(value)}")
    return value


def _sex(where: str, value: Any) -> str:
    if value not in SEXES:
        raise BadRequestError(f'{where}.Sex must be "female" or "male", got {_shown(value)}')
    return value


def _age(where: str, value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or not 0 <= value <= MAX_AGE:
        raise BadRequestError(f"{where}.Age must be a number of years from 0 to {MAX_AGE}, or "
                              f"null when unknown; got {_shown(value)}")
    return value


def _record(index: int, record: Any) -> dict[str, Any]:
    where = f"records[{index}]"
    if not isinstance(record, dict):
        raise BadRequestError(f"{where} must be an object with Pclass, Sex and Age, "
                              f"got {_type_name(record)}")
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise BadRequestError(f"{where} has unknown field(s) {', '.join(unknown)}; the fields "
                              f"are {', '.join(FIELDS)}")
    missing = [name for name in REQUIRED if name not in record]
    if missing:
        raise BadRequestError(f"{where} is missing {' and '.join(missing)}")
    return {"Pclass": _pclass(where, record["Pclass"]), "Sex": _sex(where, record["Sex"]),
            "Age": _age(where, record.get("Age"))}


def parse_records(body: bytes | None) -> list[dict[str, Any]]:
    """The validated records of a request body; BadRequestError or PayloadTooLargeError."""
    document = _load(body)
    if not isinstance(document, dict):
        raise BadRequestError(f"body must be a JSON object {SHAPE}, "
                              f"got {_type_name(document)}")
    unknown = sorted(set(document) - {"records"})
    if unknown:
        raise BadRequestError(f"unknown top-level field(s) {', '.join(unknown)}; "
                              f"the body is {SHAPE}")
    records = document.get("records")
    if not isinstance(records, list) or not records:
        raise BadRequestError(f'"records" must be a non-empty array: {SHAPE}')
    if len(records) > MAX_RECORDS:
        raise BadRequestError(f"{len(records)} records; send at most {MAX_RECORDS} per request")
    return [_record(index, record) for index, record in enumerate(records)]
