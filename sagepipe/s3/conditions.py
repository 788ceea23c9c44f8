"""Conditional and partial reads as S3 applies them (RFC 9110 sections 13 and 14).

`check_preconditions` raises PreconditionFailed (412) or NotModified (304); `byte_range` turns a
Range header into the inclusive (first, last) byte positions to send, or None for the whole body.
"""

from __future__ import annotations

import math
import re

from sagepipe.s3.exceptions import InvalidRange, NotModified, PreconditionFailed

RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
BEYOND_ANY_SIZE = 10**18  # past the largest object (5 TB): what a longer position means


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")}


def _matches(header: str, etag: str) -> bool:
    tags = _etags(header)
    return "*" in tags or etag.strip('"') in tags


def precondition_failed(condition: str) -> PreconditionFailed:
    return PreconditionFailed("At least one of the pre-conditions you specified did not hold",
                              Condition=condition)


def check_preconditions(etag: str, modified: float, *, if_match: str | None = None,
                        if_none_match: str | None = None,
                        if_modified_since: float | None = None,
                        if_unmodified_since: float | None = None) -> None:
    """Evaluate the request's conditions against the current object (dates to the second)."""
    seconds = math.floor(modified)
    if if_match is not None:
        if not _matches(if_match, etag):
            raise precondition_failed("If-Match")
    elif if_unmodified_since is not None and seconds > if_unmodified_since:
        raise precondition_failed("If-Unmodified-Since")
    if if_none_match is not None:
        if _matches(if_none_match, etag):
            raise NotModified("Not Modified", Condition="If-None-Match")
    elif if_modified_since is not None and seconds <= if_modified_since:
        raise NotModified("Not Modified", Condition="If-Modified-Since")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single `bytes=` range; syntax S3 does not honour (several ranges, other units) is
    ignored, as RFC 9110 allows, so the whole object is sent."""
    found = RANGE.match(header.strip()) if header else None
    if found is None or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if first == "":
        suffix = _position(last)
        start, end = max(size - suffix, 0), size - 1
        satisfiable = suffix > 0 and size > 0
    else:
        start = _position(first)
        if last and _position(last) < start:
            return None
        end = min(_position(last), size - 1) if last else size - 1
        satisfiable = start < size
    if not satisfiable:
        raise InvalidRange("The requested range is not satisfiable",
                           RangeRequested=(header or "").strip(), ActualObjectSize=str(size))
    return start, end


def _position(digits: str) -> int:
    """A byte position of a Range header; any number of digits (int() stops at 4,300)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) < len(str(BEYOND_ANY_SIZE)) else BEYOND_ANY_SIZE
