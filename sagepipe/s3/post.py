"""Presigned POST (boto3's `generate_presigned_post`, HTML upload forms): an object sent as a
multipart/form-data body to the bucket's URL, allowed by a signed policy instead of a signed
request (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html).

The form carries the policy (base64 JSON: `expiration` and `conditions`), its SigV4 signature
(`x-amz-signature`: the HMAC of the base64 policy with the signing key of `x-amz-credential`'s
scope, made from the home's secret) and the fields the conditions constrain; the file comes
last. S3's checks, in its order: the signature, the expiry, then every condition against the
form (`{"field": value}` and `["eq", ...]` exact, `["starts-with", ...]`, the file's
`content-length-range`) and every field against the conditions (a field no condition names is
refused). Failures are S3's AccessDenied "Invalid according to Policy: ...".
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET  # builds XML only
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from sagepipe.auth import Authenticator
from sagepipe.edge import RequestContext, mark_body_read, wire_request
from sagepipe.protocols.rest_xml import InvalidArgument, read_payload
from sagepipe.protocols.service_models import service_model
from sagepipe.s3.checksums import CHECKSUM_HEADER, BodyDigests
from sagepipe.s3.exceptions import (
    AccessDenied,
    EntityTooLarge,
    EntityTooSmall,
    InvalidRequest,
    MalformedPOSTRequest,
)
from sagepipe.s3.notifications import Origin
from sagepipe.s3.rules import check_tags
from sagepipe.s3.streams import run
from sagepipe.s3.wire import header_text, path_style
from sagepipe.sigv4 import ALGORITHM, AMZ_DATE, MISMATCH, AccessRefused, Refusal, signing_key

if TYPE_CHECKING:
    from sagepipe.s3.models import StoredObject
    from sagepipe.s3.responses import S3Service

# Fields no condition needs to name (S3's list), besides those starting with x-ignore-.
EXEMPT = ("x-amz-signature", "file", "policy")
FILENAME = "${filename}"
MAX_FIELDS = 100
META = "x-amz-meta-"
# Form fields that are PutObject members, as the headers of the same names are.
FORM_MEMBERS = {"content-type": "ContentType", "cache-control": "CacheControl",
                "content-disposition": "ContentDisposition",
                "content-encoding": "ContentEncoding", "expires": "Expires",
                "x-amz-storage-class": "StorageClass",
                "x-amz-website-redirect-location": "WebsiteRedirectLocation"}


def invalid(reason: str) -> AccessDenied:
    return AccessDenied(f"Invalid according to Policy: {reason}")


@dataclass(frozen=True)
class SizeRange:
    """The policy's content-length-range, checked once the file has arrived."""

    least: int = 0
    most: int | None = None

    def check(self, size: int) -> None:
        if self.most is not None and size > self.most:
            raise EntityTooLarge("Your proposed upload exceeds the maximum allowed size",
                                 ProposedSize=str(size), MaxSizeAllowed=str(self.most))
        if size < self.least:
            raise EntityTooSmall("Your proposed upload is smaller than the minimum allowed size",
                                 ProposedSize=str(size), MinSizeAllowed=str(self.least))


def check_policy(fields: Mapping[str, str], bucket: str, secrets: Mapping[str, str],
                 now: dt.datetime | None = None) -> SizeRange:
    """Check a POST form's signature and policy (`fields`: names lower-cased, values as sent:
    a key's ${filename} is replaced after); the file's allowed size, to check once it is read."""
    policy_text = fields.get("policy")
    if policy_text is None:
        raise invalid("the form has no policy field; make the form with "
                      "generate_presigned_post.")
    _check_signature(fields, policy_text, secrets)
    try:
        policy = json.loads(base64.b64decode(policy_text, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidRequest("Invalid Policy: the policy field is not base64-encoded "
                             "JSON.") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
        raise InvalidRequest("Invalid Policy: the policy needs an expiration and a list of "
                             "conditions.")
    _check_expiry(policy.get("expiration"), now or dt.datetime.now(dt.UTC))
    values = {**fields, "bucket": bucket}
    named, size = set(), SizeRange()
    for condition in policy["conditions"]:
        name, kind, expected = _condition(condition)
        if kind == "content-length-range":
            size = SizeRange(*expected)
            continue
        named.add(name)
        actual = values.get(name)
        holds = actual is not None and (actual == expected if kind == "eq" else
                                        actual.startswith(expected))
        if not holds:
            raise invalid(f"Policy Condition failed: {json.dumps(condition)}")
    extra = [name for name in fields if name not in named and name not in EXEMPT
             and not name.startswith("x-ignore-")]
    if extra:
        raise invalid(f"Extra input fields: {', '.join(extra)}")
    return size


def _check_signature(fields: Mapping[str, str], policy: str,
                     secrets: Mapping[str, str]) -> None:
    if "awsaccesskeyid" in fields:
        raise AccessRefused(Refusal.INCOMPLETE, "POST policies signed with Signature Version 2 "
                            f"are not accepted; sign with {ALGORITHM} (boto3's "
                            "generate_presigned_post with signature_version='s3v4').")
    missing = [name for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date",
                                 "x-amz-signature") if not fields.get(name)]
    if missing:
        raise InvalidArgument(f"Bucket POST must contain the field(s) {', '.join(missing)}.",
                              ArgumentName=missing[0], ArgumentValue="")
    if fields["x-amz-algorithm"] != ALGORITHM:
        raise InvalidArgument(f"x-amz-algorithm must be {ALGORITHM}.",
                              ArgumentName="x-amz-algorithm",
                              ArgumentValue=fields["x-amz-algorithm"])
    key_id, *scope = fields["x-amz-credential"].split("/")
    if len(scope) != 4 or scope[2:] != ["s3", "aws4_request"]:
        raise InvalidArgument("x-amz-credential must have the form "
                              "KEY/YYYYMMDD/REGION/s3/aws4_request.",
                              ArgumentName="x-amz-credential",
                              ArgumentValue=fields["x-amz-credential"])
    if key_id not in secrets:
        raise AccessRefused(Refusal.UNKNOWN_KEY, "The AWS Access Key Id you provided does not "
                            "exist in our records.", AWSAccessKeyId=key_id)
    expected = hmac.new(signing_key(secrets[key_id], scope), policy.encode(),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["x-amz-signature"]):
        raise AccessRefused(Refusal.MISMATCH, MISMATCH, AWSAccessKeyId=key_id,
                            StringToSign=policy,
                            SignatureProvided=fields["x-amz-signature"])
    try:
        dt.datetime.strptime(fields["x-amz-date"], AMZ_DATE)
    except ValueError:
        raise InvalidArgument("x-amz-date must be YYYYMMDDTHHMMSSZ.",
                              ArgumentName="x-amz-date",
                              ArgumentValue=fields["x-amz-date"]) from None


def _check_expiry(expiration: Any, now: dt.datetime) -> None:
    try:
        expires = dt.datetime.fromisoformat(str(expiration).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest("Invalid Policy: Invalid 'expiration' value: "
                             f"{str(expiration)[:64]!r}.") from None
    if now > expires.replace(tzinfo=expires.tzinfo or dt.UTC):
        raise invalid("Policy expired.")


def _condition(condition: Any) -> tuple[str, str, Any]:
    """A policy condition as (field name, kind, expected): kind `eq`, `starts-with` or
    `content-length-range` (expected: (least, most))."""
    if isinstance(condition, dict) and len(condition) == 1:
        [(name, value)] = condition.items()
        if isinstance(value, str):
            return name.lower(), "eq", value
    elif isinstance(condition, list) and len(condition) == 3:
        kind, first, second = condition
        if kind == "content-length-range" and all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 0
                for n in (first, second)):
            return "", kind, (first, second)
        if kind in ("eq", "starts-with") and isinstance(first, str) and \
                first.startswith("$") and isinstance(second, str):
            return first[1:].lower(), kind, second
    raise InvalidRequest(f"Invalid Policy: Invalid Condition: {json.dumps(condition)[:200]}")


# The request ----------------------------------------------------------------------------

def is_post_form(request: Request) -> bool:
    """A form POSTed to a bucket's URL (no query string): an upload, not an API call."""
    if request.method != "POST" or request.url.query or not request.headers.get(
            "content-type", "").lower().startswith("multipart/form-data"):
        return False
    path = path_style(request.headers.get("host", ""), wire_request(request).path)
    return path.strip("/").count("/") == 0 and path.strip("/") != ""


async def post_object(service: S3Service, context: RequestContext,
                      auth: Authenticator) -> Response:
    """Store the form's file as the object its fields describe, once its policy allows it."""
    request = context.request
    raw_bucket = path_style(request.headers.get("host", ""), wire_request(request).path)
    bucket = unquote(raw_bucket.strip("/"))
    backend = service.backend
    await run(backend.get_bucket, bucket)
    fields, upload = await _read_form(request)
    try:
        size = check_policy(fields, bucket, auth.secrets)
        if "key" not in fields:
            raise InvalidArgument("Bucket POST must contain a field named 'key'. If it is "
                                  "specified, please check the order of the fields.",
                                  ArgumentName="key", ArgumentValue="")
        key = fields["key"].replace(FILENAME, upload.filename or "")
        attrs = service.object_attrs(_form_params(fields))
        if "tagging" in fields:
            attrs["TagSet"] = check_tags(_tag_set(fields["tagging"]))
        digests = BodyDigests({name: value for name, value in fields.items()
                               if name.startswith(CHECKSUM_HEADER) or name == "content-md5"})
        body = await run(backend.writer, digests)
        try:
            await run(body.copy_from, upload.file)
            size.check(body.size)
            origin = Origin(context.request_id, request.client.host if request.client else
                            "127.0.0.1", f"AWS:{fields['x-amz-credential'].partition('/')[0]}")
            obj = await run(backend.put_object, bucket, key, body, attrs,
                            event="ObjectCreated:Post", origin=origin)
        finally:
            await run(body.discard)
    finally:
        await upload.close()
    return _answer(fields, str(request.base_url).rstrip("/"), bucket, obj)


async def _read_form(request: Request) -> tuple[dict[str, str], UploadFile]:
    """The form's fields before the file (names lower-cased: S3 reads them so) and the file."""
    try:
        form = await request.form(max_files=1, max_fields=MAX_FIELDS)
    except HTTPException as exc:
        raise MalformedPOSTRequest("The body of your POST request is not well-formed "
                                   f"multipart/form-data: {exc.detail}") from None
    finally:
        mark_body_read(request)
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name.lower() == "file":
                return fields, value
            await value.close()
        else:
            fields.setdefault(name.lower(), value)
    await form.close()
    raise InvalidArgument("POST requires exactly one file upload per request.",
                          ArgumentName="file", ArgumentValue="0")


def _form_params(fields: Mapping[str, str]) -> dict[str, Any]:
    """The PutObject members a form's fields give (as headers would)."""
    params: dict[str, Any] = {member: header_text(fields[name], name)
                              for name, member in FORM_MEMBERS.items() if name in fields}
    metadata = {name.removeprefix(META): header_text(value, name)
                for name, value in fields.items() if name.startswith(META)}
    if metadata:
        params["Metadata"] = metadata
    return params


def _tag_set(document: str) -> list[dict[str, str]]:
    """The `tagging` field: a <Tagging> XML document, as PutObjectTagging takes it."""
    member = service_model("s3").operation_model("PutObjectTagging").input_shape.members[
        "Tagging"]
    return read_payload(member, document.encode()).get("TagSet", [])


def _answer(fields: Mapping[str, str], base: str, bucket: str, obj: StoredObject) -> Response:
    """S3's answer to a POST upload: a redirect if the form asks for one, else the status it
    asks for (201 with a PostResponse document, 200), else 204."""
    location = f"{base}/{bucket}/{quote(obj.key)}"
    headers = {"ETag": obj.etag, "Location": location}
    if obj.version != "null":
        headers["x-amz-version-id"] = obj.version
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect and urlsplit(redirect).scheme in ("http", "https"):
        query = urlencode({"bucket": bucket, "key": obj.key, "etag": obj.etag})
        target = f"{redirect}{'&' if urlsplit(redirect).query else '?'}{query}"
        return Response(status_code=303, headers={**headers, "Location": target})
    status = fields.get("success_action_status")
    if status == "201":
        document = ET.Element("PostResponse")
        for tag, text in (("Location", location), ("Bucket", bucket), ("Key", obj.key),
                          ("ETag", obj.etag)):
            ET.SubElement(document, tag).text = text
        return Response(ET.tostring(document, encoding="UTF-8", xml_declaration=True), 201,
                        headers, media_type="application/xml")
    return Response(status_code=200 if status == "200" else 204, headers=headers)
