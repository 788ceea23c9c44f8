"""S3's rules for names and numbers, and the errors it answers when they are broken."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl

from sagepipe.errors import NotEmulated, ValidationException
from sagepipe.s3.conditions import check_preconditions, precondition_failed
from sagepipe.s3.exceptions import (
    BadRequest,
    InvalidArgument,
    InvalidBucketName,
    InvalidPart,
    InvalidTag,
    KeyTooLongError,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
)

MAX_KEY_BYTES = 1024
MAX_PART_NUMBER = 10_000
MIN_PART_SIZE = 5 * 1024 * 1024
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key"); the key may be empty (a whole bucket)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise ValidationException(f"{uri!r} is not an S3 URI; expected s3://bucket/key-or-prefix.")
    return bucket, key


def check_bucket_name(name: str) -> None:
    """S3's general-purpose bucket naming rules."""
    problem = None
    if not BUCKET_NAME.match(name):
        problem = ("use 3 to 63 lowercase letters, digits, dots and hyphens, starting and "
                   "ending with a letter or digit")
    elif ".." in name:
        problem = "two adjacent periods are not allowed"
    elif _is_ip_address(name):
        problem = "a name must not look like an IP address"
    elif name.startswith(RESERVED_PREFIXES) or name.endswith(RESERVED_SUFFIXES):
        problem = (f"the prefixes {', '.join(RESERVED_PREFIXES)} and suffixes "
                   f"{', '.join(RESERVED_SUFFIXES)} are reserved")
    if problem:
        raise InvalidBucketName(f"The specified bucket is not valid: {problem}.", BucketName=name)


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def check_key(key: str) -> None:
    if not key:
        raise InvalidArgument("An object key must not be empty.")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise KeyTooLongError(f"Your key is too long: S3 keys are at most "
                       f"{MAX_KEY_BYTES} bytes of UTF-8.", Key=key[:64] + "...")


def check_part_number(number: int) -> None:
    if not 1 <= number <= MAX_PART_NUMBER:
        raise InvalidArgument(f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, "
                              "inclusive", ArgumentName="partNumber", ArgumentValue=str(number))


def no_such_bucket(bucket: str) -> NoSuchBucket:
    return NoSuchBucket("The specified bucket does not exist", BucketName=bucket)


def no_such_key(key: str, **headers: str) -> NoSuchKey:
    """`headers`: a delete marker's, when it is the key's latest version."""
    return NoSuchKey("The specified key does not exist.", Key=key, **headers)


def no_such_upload(upload_id: str) -> NoSuchUpload:
    return NoSuchUpload("The specified multipart upload does not exist. The upload ID may be "
                        "invalid, or the upload may have been aborted or completed.",
                        UploadId=upload_id)


def invalid_part(number: int | None = None, etag: str = "") -> InvalidPart:
    extra = {"PartNumber": str(number), "ETag": etag} if number is not None else {}
    return InvalidPart("One or more of the specified parts could not be found. The part may "
                       "not have been uploaded, or the specified ETag may not match the part's "
                       "ETag.", **extra)


def check_write(key: str, current: tuple[str, float] | None, if_match: str | None,
                if_none_match: str | None) -> None:
    """Conditional writes against the current (ETag, modified) of the key, None if it is new;
    S3 takes If-None-Match only as `*` (the key must be new)."""
    if if_none_match is not None and if_none_match.strip() != "*":
        raise NotEmulated("A conditional write takes If-None-Match only as '*'.",
                          Header="If-None-Match")
    if current is None:
        if if_match is not None:
            raise no_such_key(key)
    elif if_none_match is not None:
        raise precondition_failed("If-None-Match")
    elif if_match is not None:
        check_preconditions(*current, if_match=if_match)


MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
TAG_PUNCTUATION = set(" +-=._:/@")
TAGGING_HEADER = "x-amz-tagging"


def check_tags(tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """An object's tag set, as S3 limits it: 10 tags, unique keys of at most 128 characters,
    values of at most 256, letters, digits, spaces and `+ - = . _ : / @` only."""
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"Object tags cannot be greater than {MAX_TAGS}")
    keys = [tag.get("Key", "") for tag in tags]
    if len(set(keys)) != len(keys):
        raise InvalidTag("Cannot provide multiple Tags with the same key")
    for tag in tags:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if len(key) > MAX_TAG_KEY:
            raise InvalidTag(f"The TagKey you have provided is too long, max {MAX_TAG_KEY}",
                             TagKey=key)
        if len(value) > MAX_TAG_VALUE:
            raise InvalidTag(f"The TagValue you have provided is too long, max "
                             f"{MAX_TAG_VALUE}", TagKey=key, TagValue=value)
        if key.startswith("aws:"):
            raise InvalidTag("Your TagKey cannot be prefixed with aws:", TagKey=key)
        for what, text in (("TagKey", key), ("TagValue", value)):
            if (what == "TagKey" and not text) or not all(
                    c.isalnum() or c in TAG_PUNCTUATION for c in text):
                raise InvalidTag(f"The {what} you have provided is invalid", TagKey=key)
    return [{"Key": tag.get("Key", ""), "Value": tag.get("Value", "")} for tag in tags]


def parse_tagging_header(text: str) -> list[dict[str, str]]:
    """`x-amz-tagging: k1=v1&k2=v2` (URL-encoded UTF-8), checked as a tag set."""
    pairs = parse_qsl(text, keep_blank_values=True)
    if len({key for key, _ in pairs}) != len(pairs) or \
            any(not part or "=" not in part for part in text.split("&") if text):
        raise InvalidArgument(f"The header '{TAGGING_HEADER}' shall be encoded as UTF-8 then "
                              "URLEncoded URL query parameters without tag name duplicates.",
                              ArgumentName=TAGGING_HEADER, ArgumentValue=text)
    return check_tags([{"Key": key, "Value": value} for key, value in pairs])
