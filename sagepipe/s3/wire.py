"""What S3's wire format says beyond botocore's model: virtual-host addressing, continuation
tokens, copy sources and their ranges, and header values made from text."""

from __future__ import annotations

import base64
import binascii
import re
from email.header import Header
from urllib.parse import parse_qsl, quote, unquote

from sagepipe.auth import host_name
from sagepipe.s3.exceptions import InvalidArgument

VIRTUAL_HOST_SUFFIX = ".localhost"
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # what no header value may hold (tab may)
COPY_RANGE = re.compile(r"^bytes=([0-9]{1,18})-([0-9]{1,18})$")


def encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


def decode_token(token: str) -> str:
    try:
        return base64.b64decode(token, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidArgument("The continuation token provided is incorrect; pass back the "
                              "NextContinuationToken of the previous page.",
                              ArgumentName="continuation-token", ArgumentValue=token) from None


def path_style(host: str, raw_path: str) -> str:
    """The request's path as path-style S3 (`/bucket/key`): a virtual-host style request
    (`Host: bucket.localhost:port`) names its bucket in the host."""
    name = host_name(host)
    if name.endswith(VIRTUAL_HOST_SUFFIX):
        return "/" + quote(name.removesuffix(VIRTUAL_HOST_SUFFIX)) + raw_path
    return raw_path


def resource_type(path: str) -> str:
    segments = path.lstrip("/").split("/", 1)
    if not segments[0]:
        return "SERVICE"
    return "OBJECT" if len(segments) > 1 and segments[1] else "BUCKET"


def header_text(value: str, name: str) -> str:
    """A header value from text (a query parameter, a form field), not from header bytes:
    control characters refused (they would end the header), non-ASCII text RFC 2047-encoded as
    S3 encodes metadata."""
    if CONTROL.search(value):
        raise InvalidArgument(f"{name} must not contain control characters (CR, LF, NUL...).",
                              ArgumentName=name, ArgumentValue=value.encode("unicode_escape")
                              .decode())
    return value if value.isascii() else Header(value, "utf-8").encode()


def copy_source(header: str) -> tuple[str, str, str | None]:
    """`x-amz-copy-source`: `[/]bucket/key[?versionId=...]`, URL-encoded; (bucket, key,
    version or None)."""
    path, _, query = header.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise InvalidArgument("Copy Source must mention the source bucket and key: "
                              "sourcebucket/sourcekey", ArgumentName="x-amz-copy-source",
                              ArgumentValue=header)
    params = dict(parse_qsl(query, keep_blank_values=True))
    if set(params) - {"versionId"}:
        raise InvalidArgument("A copy source takes only a versionId query parameter.",
                              ArgumentName="x-amz-copy-source", ArgumentValue=header)
    return bucket, key, params.get("versionId") or None


def copy_range(header: str | None, size: int) -> tuple[int, int]:
    """`x-amz-copy-source-range: bytes=first-last` (inclusive, within the source): (first,
    length); the whole source without one."""
    if header is None:
        return 0, size
    found = COPY_RANGE.match(header.strip())
    if found is None or int(found.group(1)) > int(found.group(2)):
        raise InvalidArgument("The x-amz-copy-source-range value must be of the form "
                              "bytes=first-last where first and last are the zero-based offsets "
                              "of the first and last bytes to copy",
                              ArgumentName="x-amz-copy-source-range", ArgumentValue=header)
    first, last = int(found.group(1)), int(found.group(2))
    if last >= size:
        raise InvalidArgument(f"Range specified is not valid for source object of size: {size}",
                              ArgumentName="x-amz-copy-source-range", ArgumentValue=header)
    return first, last - first + 1
