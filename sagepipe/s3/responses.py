"""The local S3 on the wire: S3's REST-XML requests in, its XML bodies, headers and errors out.

Routing, input members and output layout come from botocore's S3 model (`protocols.rest_xml`);
`HANDLERS` below is the table of the operations the local S3 implements, each turning one
operation's parameters (botocore member names) into calls on `S3Backend` and returning the
output members, or a streaming response. Bodies are streamed to and from disk (`s3.streams`);
file and database work runs in worker threads, off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.header import Header
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from botocore.model import OperationModel
from starlette.responses import Response, StreamingResponse

from sagepipe.auth import Authenticator, host_name
from sagepipe.config import ACCOUNT_ID
from sagepipe.edge import AwsService, RequestContext, wire_request
from sagepipe.errors import AWSError, NotEmulated
from sagepipe.protocols.rest_xml import malformed_xml, write_headers
from sagepipe.protocols.wire import Params, WireRequest
from sagepipe.s3.conditions import byte_range, check_preconditions
from sagepipe.s3.exceptions import (
    AccessDenied,
    IllegalLocationConstraintException,
    InternalError,
    InvalidArgument,
    InvalidLocationConstraint,
    InvalidObjectState,
    InvalidStorageClass,
    MetadataTooLarge,
    MethodNotAllowed,
    NotModified,
)
from sagepipe.s3.listing import Page
from sagepipe.s3.models import OWNER_ID, S3Backend, StoredObject
from sagepipe.s3.rules import MAX_PART_NUMBER, check_part_number
from sagepipe.s3.streams import read_blob, read_xml_body, receive_object, run

Result = dict[str, Any] | Response

# The result element S3 wraps each XML response body in (the model leaves it unnamed).
ROOT_ELEMENTS = {
    "ListBuckets": "ListAllMyBucketsResult", "GetBucketLocation": "LocationConstraint",
    "ListObjects": "ListBucketResult", "ListObjectsV2": "ListBucketResult",
    "DeleteObjects": "DeleteResult", "CopyObject": "CopyObjectResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult", "ListParts": "ListPartsResult",
}
# Request members kept with an object and answered back by GetObject / HeadObject.
STORED_MEMBERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding",
                  "ContentLanguage", "Expires", "Metadata", "StorageClass",
                  "WebsiteRedirectLocation")
# GetObject's response-* query parameters and the headers they override.
OVERRIDES = {"ResponseContentType": "ContentType", "ResponseCacheControl": "CacheControl",
             "ResponseContentDisposition": "ContentDisposition",
             "ResponseContentEncoding": "ContentEncoding",
             "ResponseContentLanguage": "ContentLanguage", "ResponseExpires": "Expires"}
ARCHIVED = ("GLACIER", "DEEP_ARCHIVE")
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
OWNER = {"ID": OWNER_ID, "DisplayName": "sagepipe"}
MAX_METADATA_BYTES = 2048
MAX_KEYS = 1000
MAX_DELETE_KEYS = 1000
VIRTUAL_HOST_SUFFIX = ".localhost"
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # what no header value may hold (tab may)


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


class S3Service(AwsService):
    internal_error = InternalError

    def __init__(self, backend: S3Backend) -> None:
        self.backend = backend
        super().__init__("s3", "S3", {
            "ListBuckets": self.list_buckets,
            "CreateBucket": self.create_bucket,
            "HeadBucket": self.head_bucket,
            "GetBucketLocation": self.get_bucket_location,
            "DeleteBucket": self.delete_bucket,
            "ListObjectsV2": self.list_objects_v2,
            "ListObjects": self.list_objects,
            "PutObject": self.put_object,
            "GetObject": self.get_object,
            "HeadObject": self.head_object,
            "DeleteObject": self.delete_object,
            "DeleteObjects": self.delete_objects,
            "CopyObject": self.copy_object,
            "CreateMultipartUpload": self.create_multipart_upload,
            "UploadPart": self.upload_part,
            "CompleteMultipartUpload": self.complete_multipart_upload,
            "AbortMultipartUpload": self.abort_multipart_upload,
            "ListParts": self.list_parts,
        }, root_elements=ROOT_ELEMENTS)
        self.location_constraints = set(self.model.shape_for("BucketLocationConstraint").enum)
        self.storage_classes = set(self.model.shape_for("StorageClass").enum)

    # The edge: bodies stream, so the signature is checked before any is read ---------------

    async def receive(self, context: RequestContext, auth: Authenticator) -> WireRequest:
        context.signature = auth.verify(context.request, self.signing_name, body=None, s3=True)
        wire = wire_request(context.request)
        return WireRequest(wire.method, path_style(wire.headers.get("host", ""), wire.path),
                           wire.query, wire.headers)

    def operation(self, wire: WireRequest) -> OperationModel:
        try:
            return self.protocol.operation(wire)
        except MethodNotAllowed as err:
            raise MethodNotAllowed(err.message, Method=wire.method,
                                   ResourceType=resource_type(wire.path)) from None

    async def parameters(self, context: RequestContext, op: OperationModel,
                         wire: WireRequest) -> Params:
        shape = op.input_shape
        payload = shape.serialization.get("payload") if shape else None
        if payload and shape.members[payload].type_name == "structure":
            wire = WireRequest(wire.method, wire.path, wire.query, wire.headers,
                               await read_xml_body(context.request, op.http_checksum.get(
                                   "requestChecksumRequired", False)))
        params = self.protocol.parse(op, wire)
        if params.get("ExpectedBucketOwner", ACCOUNT_ID) != ACCOUNT_ID:
            raise AccessDenied(f"Access Denied: the bucket is owned by account {ACCOUNT_ID}, "
                               f"not {params['ExpectedBucketOwner']}.")
        return params

    def error_response(self, err: AWSError, context: RequestContext) -> Response:
        response = super().error_response(err, context)
        if err.code == "InvalidRange":
            response.headers["Content-Range"] = f"bytes */{err.extra['ActualObjectSize']}"
        return response

    def _object_attrs(self, params: Params) -> dict[str, Any]:
        """What an object keeps from the request that writes it, checked as S3 checks it."""
        attrs = {name: params[name] for name in STORED_MEMBERS if name in params}
        attrs.setdefault("ContentType", DEFAULT_CONTENT_TYPE)
        # aws-chunked is how the body travelled, not how the object is encoded: S3 drops it.
        encodings = [e.strip() for e in attrs.get("ContentEncoding", "").split(",")
                     if e.strip() and e.strip() != "aws-chunked"]
        if encodings:
            attrs["ContentEncoding"] = ",".join(encodings)
        else:
            attrs.pop("ContentEncoding", None)
        if attrs.get("StorageClass", "STANDARD") not in self.storage_classes:
            raise InvalidStorageClass("The storage class you specified is not valid.",
                                      StorageClassRequested=attrs["StorageClass"])
        metadata_size = sum(len(k.encode()) + len(v.encode())
                            for k, v in attrs.get("Metadata", {}).items())
        if metadata_size > MAX_METADATA_BYTES:
            raise MetadataTooLarge("Your metadata headers exceed the maximum allowed metadata "
                                   f"size ({metadata_size} > {MAX_METADATA_BYTES} bytes).",
                                   Size=str(metadata_size), MaxSizeAllowed=str(MAX_METADATA_BYTES))
        return attrs

    # Buckets ------------------------------------------------------------------------------

    async def list_buckets(self, _context: RequestContext, params: Params) -> Result:
        limit = params.get("MaxBuckets", 10_000)
        if not 1 <= limit <= 10_000:
            raise InvalidArgument("max-buckets must be between 1 and 10000.",
                                  ArgumentName="max-buckets", ArgumentValue=str(limit))
        token = params.get("ContinuationToken")
        buckets = await run(self.backend.list_buckets, prefix=params.get("Prefix", ""),
                            region=params.get("BucketRegion"),
                            after=decode_token(token) if token else "", limit=limit + 1)
        page = buckets[:limit]
        return {"Buckets": [{"Name": b.name, "CreationDate": b.created, "BucketRegion": b.region}
                            for b in page],
                "Owner": OWNER, "Prefix": params.get("Prefix"),
                "ContinuationToken": encode_token(page[-1].name) if len(buckets) > limit
                else None}

    async def create_bucket(self, context: RequestContext, params: Params) -> Result:
        config = params.get("CreateBucketConfiguration", {})
        region = self._new_bucket_region(config.get("LocationConstraint"),
                                         context.region or self.backend.settings.region)
        await run(self.backend.create_bucket, params["Bucket"], region)
        return {"Location": f"/{params['Bucket']}"}

    def _new_bucket_region(self, constraint: str | None, endpoint_region: str) -> str:
        """Where a new bucket lives: S3's rules for LocationConstraint against the region the
        request was signed for (us-east-1 takes no constraint, other regions their own)."""
        if not constraint:
            if endpoint_region != "us-east-1":
                raise IllegalLocationConstraintException(
                    "The unspecified location constraint is incompatible for the region "
                    "specific endpoint this request was sent to; pass CreateBucketConfiguration="
                    f"{{'LocationConstraint': '{endpoint_region}'}}.")
            return "us-east-1"
        if constraint not in self.location_constraints:
            raise InvalidLocationConstraint(f"The specified location-constraint {constraint!r} "
                                            "is not valid (us-east-1 takes none).",
                                            LocationConstraint=constraint)
        region = "eu-west-1" if constraint == "EU" else constraint
        if endpoint_region not in ("us-east-1", region):
            raise IllegalLocationConstraintException(
                f"The {constraint} location constraint is incompatible for the region specific "
                f"endpoint this request was sent to ({endpoint_region}).")
        return region

    async def head_bucket(self, _context: RequestContext, params: Params) -> Result:
        bucket = await run(self.backend.get_bucket, params["Bucket"])
        return {"BucketRegion": bucket.region}

    async def get_bucket_location(self, _context: RequestContext, params: Params) -> Result:
        bucket = await run(self.backend.get_bucket, params["Bucket"])
        return {"LocationConstraint": None if bucket.region == "us-east-1" else bucket.region}

    async def delete_bucket(self, _context: RequestContext, params: Params) -> Result:
        await run(self.backend.delete_bucket, params["Bucket"])
        return {}

    # Listing ------------------------------------------------------------------------------

    async def list_objects_v2(self, _context: RequestContext, params: Params) -> Result:
        token = params.get("ContinuationToken")
        after = decode_token(token) if token is not None else params.get("StartAfter", "")
        page = await self._page(params, after)
        return {**self._listing(params, page, ("Delimiter", "Prefix", "StartAfter")),
                "KeyCount": len(page.objects) + len(page.prefixes), "ContinuationToken": token,
                "NextContinuationToken": encode_token(page.last) if page.truncated and page.last
                else None,
                "StartAfter": params.get("StartAfter")}

    async def list_objects(self, _context: RequestContext, params: Params) -> Result:
        page = await self._page(params, params.get("Marker", ""))
        # S3 names the next marker only when a delimiter is given (else it is the last key).
        next_marker = page.last if page.truncated and params.get("Delimiter") else None
        return {**self._listing(params, page, ("Delimiter", "Marker", "NextMarker"), owner=True),
                "Marker": params.get("Marker", ""), "NextMarker": next_marker}

    async def _page(self, params: Params, after: str) -> Page[StoredObject]:
        max_keys = params.get("MaxKeys", MAX_KEYS)
        if max_keys < 0:
            raise InvalidArgument("max-keys must not be negative.", ArgumentName="max-keys",
                                  ArgumentValue=str(max_keys))
        if params.get("EncodingType", "url") != "url":
            raise InvalidArgument("Invalid Encoding Method specified in Request; the only one is "
                                  "'url'.", ArgumentName="encoding-type",
                                  ArgumentValue=params["EncodingType"])
        return await run(self.backend.list_objects, params["Bucket"],
                         prefix=params.get("Prefix", ""), delimiter=params.get("Delimiter"),
                         after=after, max_keys=min(max_keys, MAX_KEYS))

    @staticmethod
    def _listing(params: Params, page: Page[StoredObject], encoded: tuple[str, ...],
                 owner: bool = False) -> dict[str, Any]:
        """The members both list versions share; with encoding-type=url, keys and the fields
        in `encoded` are URL-encoded (the fields botocore decodes for that version)."""
        url = params.get("EncodingType") == "url"

        def enc(value: str) -> str:
            return quote_plus(value, safe="/") if url else value

        contents = [{"Key": enc(o.key), "LastModified": o.modified, "ETag": o.etag,
                     "Size": o.size, "StorageClass": o.attrs.get("StorageClass", "STANDARD"),
                     "Owner": OWNER if owner or params.get("FetchOwner") else None}
                    for o in page.objects]
        fields = {"Name": params["Bucket"], "Prefix": params.get("Prefix", ""),
                  "Delimiter": params.get("Delimiter"), "MaxKeys": params.get("MaxKeys", MAX_KEYS),
                  "EncodingType": params.get("EncodingType"), "IsTruncated": page.truncated,
                  "Contents": contents,
                  "CommonPrefixes": [{"Prefix": enc(p)} for p in page.prefixes]}
        for name in encoded:
            if isinstance(fields.get(name), str):
                fields[name] = enc(fields[name])
        return fields

    # Objects ------------------------------------------------------------------------------

    async def put_object(self, context: RequestContext, params: Params) -> Result:
        attrs = self._object_attrs(params)
        await run(self.backend.get_bucket, params["Bucket"])  # before taking in the body
        async with receive_object(context, self.backend, params.get("ContentLength")) as body:
            obj = await run(self.backend.put_object, params["Bucket"], params["Key"], body,
                            attrs, if_match=params.get("IfMatch"),
                            if_none_match=params.get("IfNoneMatch"))
        return {"ETag": obj.etag}

    async def get_object(self, _context: RequestContext, params: Params) -> Result:
        if "PartNumber" in params:
            raise NotEmulated("sagepipe's local S3 does not emulate GetObject with partNumber; "
                              "use a Range instead.")
        return await self._read_object("GetObject", params, send_body=True)

    async def head_object(self, _context: RequestContext, params: Params) -> Result:
        return await self._read_object("HeadObject", params, send_body=False)

    async def _read_object(self, op_name: str, params: Params, send_body: bool) -> Response:
        obj, handle = await run(self.backend.open_object, params["Bucket"], params["Key"])
        try:
            headers = self._object_headers(op_name, obj, params)
            check_preconditions(obj.etag, obj.modified, if_match=params.get("IfMatch"),
                                if_none_match=params.get("IfNoneMatch"),
                                if_modified_since=params.get("IfModifiedSince"),
                                if_unmodified_since=params.get("IfUnmodifiedSince"))
            span = byte_range(params.get("Range"), obj.size)
            if send_body and obj.attrs.get("StorageClass") in ARCHIVED:
                raise InvalidObjectState("The operation is not valid for the object's storage "
                                         "class", StorageClass=obj.attrs["StorageClass"])
        except NotModified:
            handle.close()
            return Response(status_code=304, headers={
                k: v for k, v in headers.items() if k in ("ETag", "Last-Modified")})
        except BaseException:
            handle.close()
            raise
        first, last = span if span else (0, obj.size - 1)
        headers["Content-Length"] = str(last - first + 1)
        if span:
            headers["Content-Range"] = f"bytes {first}-{last}/{obj.size}"
        if not send_body:
            handle.close()
            return Response(status_code=206 if span else 200, headers=headers)
        return StreamingResponse(read_blob(handle, first, last - first + 1),
                                 206 if span else 200, headers)

    def _object_headers(self, op_name: str, obj: StoredObject, params: Params) -> dict[str, str]:
        result = {**obj.attrs, "ETag": obj.etag, "LastModified": obj.modified,
                  "AcceptRanges": "bytes"}
        if result.get("StorageClass") == "STANDARD":
            del result["StorageClass"]  # S3 names the class only when it is not STANDARD
        op = self.model.operation_model(op_name)
        result.update({header: header_text(params[name], op.input_shape.members[name]
                                           .serialization["name"])
                       for name, header in OVERRIDES.items() if name in params})
        return write_headers(op.output_shape, result)

    async def delete_object(self, _context: RequestContext, params: Params) -> Result:
        await run(self.backend.delete_object, params["Bucket"], params["Key"])
        return {}

    async def delete_objects(self, _context: RequestContext, params: Params) -> Result:
        request = params.get("Delete")
        if request is None:
            raise malformed_xml("send a <Delete> document.")
        keys = [entry.get("Key", "") for entry in request.get("Objects", [])]
        if not 1 <= len(keys) <= MAX_DELETE_KEYS:
            raise malformed_xml(f"list 1 to {MAX_DELETE_KEYS} <Object> elements.")
        errors = await run(self.backend.delete_objects, params["Bucket"], keys)
        outcomes = list(zip(keys, errors, strict=True))
        return {"Deleted": [] if request.get("Quiet") else
                [{"Key": key} for key, error in outcomes if error is None],
                "Errors": [{"Key": key, "Code": error.code, "Message": error.message}
                           for key, error in outcomes if error is not None]}

    async def copy_object(self, _context: RequestContext, params: Params) -> Result:
        source = _copy_source(params["CopySource"])
        directive = params.get("MetadataDirective", "COPY")
        if directive not in ("COPY", "REPLACE"):
            raise InvalidArgument("Unknown metadata directive: use COPY or REPLACE.",
                                  ArgumentName="x-amz-metadata-directive",
                                  ArgumentValue=directive)
        attrs = self._object_attrs(params) if directive == "REPLACE" else None
        conditions = {"if_match": params.get("CopySourceIfMatch"),
                      "if_none_match": params.get("CopySourceIfNoneMatch"),
                      "if_modified_since": params.get("CopySourceIfModifiedSince"),
                      "if_unmodified_since": params.get("CopySourceIfUnmodifiedSince")}
        obj = await run(self.backend.copy_object, source, params["Bucket"], params["Key"],
                        attrs, conditions)
        return {"CopyObjectResult": {"ETag": obj.etag, "LastModified": obj.modified}}

    # Multipart uploads --------------------------------------------------------------------

    async def create_multipart_upload(self, _context: RequestContext, params: Params) -> Result:
        upload = await run(self.backend.uploads.create_upload, params["Bucket"], params["Key"],
                           self._object_attrs(params))
        return {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.id}

    async def upload_part(self, context: RequestContext, params: Params) -> Result:
        check_part_number(params["PartNumber"])
        upload = await run(self.backend.uploads.get_upload, params["Bucket"], params["Key"],
                           params["UploadId"])
        async with receive_object(context, self.backend, params.get("ContentLength")) as body:
            part = await run(self.backend.uploads.upload_part, upload, params["PartNumber"], body)
        return {"ETag": part.etag}

    async def complete_multipart_upload(self, context: RequestContext, params: Params) -> Result:
        upload = await run(self.backend.uploads.get_upload, params["Bucket"], params["Key"],
                           params["UploadId"])
        chosen = [(part.get("PartNumber"), part.get("ETag", ""))
                  for part in params.get("MultipartUpload", {}).get("Parts", [])]
        if any(number is None for number, _ in chosen):
            raise malformed_xml("every <Part> needs a <PartNumber>.")
        obj = await run(self.backend.uploads.complete_upload, upload, chosen,
                        if_match=params.get("IfMatch"), if_none_match=params.get("IfNoneMatch"))
        base = str(context.request.base_url).rstrip("/")
        location = f"{base}/{upload.bucket}/{quote(upload.key)}"
        return {"Location": location, "Bucket": upload.bucket, "Key": upload.key,
                "ETag": obj.etag}

    async def abort_multipart_upload(self, _context: RequestContext, params: Params) -> Result:
        upload = await run(self.backend.uploads.get_upload, params["Bucket"], params["Key"],
                           params["UploadId"])
        await run(self.backend.uploads.abort_upload, upload)
        return {}

    async def list_parts(self, _context: RequestContext, params: Params) -> Result:
        upload = await run(self.backend.uploads.get_upload, params["Bucket"], params["Key"],
                           params["UploadId"])
        max_parts = min(max(params.get("MaxParts", 1000), 0), 1000)
        marker = params.get("PartNumberMarker", 0)
        if marker < 0:
            raise InvalidArgument("part-number-marker must be a part number (0 or more).",
                                  ArgumentName="part-number-marker", ArgumentValue=str(marker))
        parts, truncated = await run(self.backend.uploads.list_parts, upload,
                                     after=min(marker, MAX_PART_NUMBER), max_parts=max_parts)
        return {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.id,
                "PartNumberMarker": marker,
                "NextPartNumberMarker": parts[-1].number if parts else marker,
                "MaxParts": max_parts, "IsTruncated": truncated,
                "Parts": [{"PartNumber": p.number, "LastModified": p.modified, "ETag": p.etag,
                           "Size": p.size} for p in parts],
                "Initiator": OWNER, "Owner": OWNER,
                "StorageClass": upload.attrs.get("StorageClass", "STANDARD")}


def header_text(value: str, name: str) -> str:
    """A header value from a query parameter or form field (text, not header bytes): control
    characters refused (they would end the header), non-ASCII text RFC 2047-encoded as S3
    encodes metadata."""
    if CONTROL.search(value):
        raise InvalidArgument(f"{name} must not contain control characters (CR, LF, NUL...).",
                              ArgumentName=name, ArgumentValue=value.encode("unicode_escape")
                              .decode())
    return value if value.isascii() else Header(value, "utf-8").encode()


def _copy_source(header: str) -> tuple[str, str]:
    """`x-amz-copy-source`: `[/]bucket/key[?versionId=...]`, URL-encoded."""
    path, _, query = header.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise InvalidArgument("Copy Source must mention the source bucket and key: "
                              "sourcebucket/sourcekey", ArgumentName="x-amz-copy-source",
                              ArgumentValue=header)
    if query and query not in ("versionId=null", "versionId="):
        raise InvalidArgument("Invalid version id specified: the local S3 keeps no versions.",
                              ArgumentName="versionId", ArgumentValue=query)
    return bucket, key


