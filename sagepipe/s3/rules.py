"""S3's rules for names and numbers, and the errors it answers when they are broken."""

from __future__ import annotations

import ipaddress
import re

from sagepipe.errors import AWSError, validation
from sagepipe.s3.conditions import check_preconditions, precondition_failed

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
        raise validation(f"{uri!r} is not an S3 URI; expected s3://bucket/key-or-prefix.")
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
        raise AWSError("InvalidBucketName", f"The specified bucket is not valid: {problem}.",
                       BucketName=name)


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def check_key(key: str) -> None:
    if not key:
        raise AWSError("InvalidArgument", "An object key must not be empty.")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise AWSError("KeyTooLongError", f"Your key is too long: S3 keys are at most "
                       f"{MAX_KEY_BYTES} bytes of UTF-8.", Key=key[:64] + "...")


def check_part_number(number: int) -> None:
    if not 1 <= number <= MAX_PART_NUMBER:
        raise AWSError("InvalidArgument", f"Part number must be an integer between 1 and "
                       f"{MAX_PART_NUMBER}, inclusive", ArgumentName="partNumber",
                       ArgumentValue=str(number))


def no_such_bucket(bucket: str) -> AWSError:
    return AWSError("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket)


def no_such_key(key: str) -> AWSError:
    return AWSError("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def no_such_upload(upload_id: str) -> AWSError:
    return AWSError("NoSuchUpload", "The specified multipart upload does not exist. The upload "
                    "ID may be invalid, or the upload may have been aborted or completed.", 404,
                    UploadId=upload_id)


def invalid_part(number: int | None = None, etag: str = "") -> AWSError:
    extra = {"PartNumber": str(number), "ETag": etag} if number is not None else {}
    return AWSError("InvalidPart", "One or more of the specified parts could not be found. The "
                    "part may not have been uploaded, or the specified ETag may not match the "
                    "part's ETag.", 400, **extra)


def check_write(key: str, current: tuple[str, float] | None, if_match: str | None,
                if_none_match: str | None) -> None:
    """Conditional writes against the current (ETag, modified) of the key, None if it is new;
    S3 takes If-None-Match only as `*` (the key must be new)."""
    if if_none_match is not None and if_none_match.strip() != "*":
        raise AWSError("NotImplemented", "A conditional write takes If-None-Match only as '*'.",
                       501, Header="If-None-Match")
    if current is None:
        if if_match is not None:
            raise no_such_key(key)
    elif if_none_match is not None:
        raise precondition_failed("If-None-Match")
    elif if_match is not None:
        check_preconditions(*current, if_match=if_match)
