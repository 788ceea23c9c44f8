"""The local S3 on the wire: S3's REST-XML requests in, its XML bodies, headers and errors out.

Routing, input members and output layout come from botocore's S3 model (`protocols.rest_xml`);
the handler table below lists the operations the local S3 implements, each turning one
operation's parameters (botocore member names) into calls on `S3Backend` and returning the
output members, or a streaming response. Bodies are streamed to and from disk (`s3.streams`);
file and database work runs in worker threads, off the event loop. A presigned POST (a form,
not an operation of the model) is answered before routing (`s3.post`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, quote_plus

from botocore.model import OperationModel
from starlette.responses import Response, StreamingResponse

from sagepipe.auth import Authenticator
from sagepipe.config import ACCOUNT_ID
from sagepipe.edge import AwsService, RequestContext, wire_request
from sagepipe.errors import AWSError, NotEmulated
from sagepipe.protocols.rest_xml import malformed_xml, write_headers
from sagepipe.protocols.wire import Params, WireRequest
from sagepipe.s3.checksums import check_algorithm, checksum_member
from sagepipe.s3.conditions import byte_range, check_preconditions
from sagepipe.s3.exceptions import (
    AccessDenied,
    IllegalLocationConstraintException,
    InternalError,
    InvalidArgument,
    InvalidLocationConstraint,
    InvalidObjectState,
    InvalidRequest,
    InvalidStorageClass,
    MetadataTooLarge,
    MethodNotAllowed,
    NotModified,
)
from sagepipe.s3.listing import Page
from sagepipe.s3.models import (
    NULL_VERSION,
    OWNER_ID,
    Deletion,
    S3Backend,
    StoredObject,
    checksum_of,
)
from sagepipe.s3.multipart import upload_checksum
from sagepipe.s3.notifications import Origin, host_id
from sagepipe.s3.post import is_post_form, post_object
from sagepipe.s3.rules import (
    MAX_PART_NUMBER,
    check_part_number,
    check_tags,
    parse_tagging_header,
)
from sagepipe.s3.streams import read_blob, read_xml_body, receive_object, run
from sagepipe.s3.wire import (
    copy_range,
    copy_source,
    decode_token,
    encode_token,
    header_text,
    path_style,
    resource_type,
)

Result = dict[str, Any] | Response

# The result element S3 wraps each XML response body in (the model leaves it unnamed).
ROOT_ELEMENTS = {
    "ListBuckets": "ListAllMyBucketsResult", "GetBucketLocation": "LocationConstraint",
    "ListObjects": "ListBucketResult", "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult", "DeleteObjects": "DeleteResult",
    "CopyObject": "CopyObjectResult", "UploadPartCopy": "CopyPartResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult", "ListParts": "ListPartsResult",
    "GetBucketVersioning": "VersioningConfiguration", "GetObjectTagging": "Tagging",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
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
OBJECT_ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
ARCHIVED = ("GLACIER", "DEEP_ARCHIVE")
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
OWNER = {"ID": OWNER_ID, "DisplayName": "sagepipe"}
MAX_METADATA_BYTES = 2048
MAX_KEYS = 1000
MAX_DELETE_KEYS = 1000
# An S3 error's extra fields named like these travel as headers, not in its XML (a delete
# marker's 404 and 405).
ERROR_HEADERS = ("x-amz-delete-marker", "x-amz-version-id", "Last-Modified")


def version_of(obj: StoredObject) -> str | None:
    """The x-amz-version-id an answer about `obj` carries: none for an unversioned object."""
    return None if obj.version == NULL_VERSION else obj.version


def origin_of(context: RequestContext) -> Origin:
    client = context.request.client
    return Origin(context.request_id, client.host if client else "127.0.0.1",
                  f"AWS:{context.signature.access_key}" if context.signature else
                  f"AWS:{ACCOUNT_ID}")


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
            "PutBucketVersioning": self.put_bucket_versioning,
            "GetBucketVersioning": self.get_bucket_versioning,
            "PutBucketNotificationConfiguration": self.put_bucket_notification_configuration,
            "GetBucketNotificationConfiguration": self.get_bucket_notification_configuration,
            "ListObjectsV2": self.list_objects_v2,
            "ListObjects": self.list_objects,
            "ListObjectVersions": self.list_object_versions,
            "PutObject": self.put_object,
            "GetObject": self.get_object,
            "HeadObject": self.head_object,
            "GetObjectAttributes": self.get_object_attributes,
            "DeleteObject": self.delete_object,
            "DeleteObjects": self.delete_objects,
            "CopyObject": self.copy_object,
            "PutObjectTagging": self.put_object_tagging,
            "GetObjectTagging": self.get_object_tagging,
            "DeleteObjectTagging": self.delete_object_tagging,
            "CreateMultipartUpload": self.create_multipart_upload,
            "UploadPart": self.upload_part,
            "UploadPartCopy": self.upload_part_copy,
            "CompleteMultipartUpload": self.complete_multipart_upload,
            "AbortMultipartUpload": self.abort_multipart_upload,
            "ListParts": self.list_parts,
        }, root_elements=ROOT_ELEMENTS)
        self.location_constraints = set(self.model.shape_for("BucketLocationConstraint").enum)
        self.storage_classes = set(self.model.shape_for("StorageClass").enum)

    # The edge: bodies stream, so the signature is checked before any is read ---------------

    async def handle(self, context: RequestContext, auth: Authenticator) -> Response:
        if is_post_form(context.request):  # signed by its policy, not as a request
            response = await post_object(self, context, auth)
        else:
            response = await super().handle(context, auth)
        response.headers["x-amz-id-2"] = host_id(context.request_id)
        return response

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
        headers = {name: str(err.extra[name]) for name in ERROR_HEADERS if name in err.extra}
        if headers:
            err = AWSError(err.code, err.message, err.status,
                           **{k: v for k, v in err.extra.items() if k not in headers})
        response = super().error_response(err, context)
        response.headers.update(headers)
        if err.code == "InvalidRange":
            response.headers["Content-Range"] = f"bytes */{err.extra['ActualObjectSize']}"
        response.headers["x-amz-id-2"] = host_id(context.request_id)
        return response

    def object_attrs(self, params: Params) -> dict[str, Any]:
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
        if params.get("Tagging"):
            attrs["TagSet"] = parse_tagging_header(params["Tagging"])
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

    async def put_bucket_versioning(self, _context: RequestContext, params: Params) -> Result:
        config = params.get("VersioningConfiguration")
        if config is None:
            raise malformed_xml("send a <VersioningConfiguration> document.")
        await run(self.backend.put_bucket_versioning, params["Bucket"], config.get("Status"),
                  config.get("MFADelete"))
        return {}

    async def get_bucket_versioning(self, _context: RequestContext, params: Params) -> Result:
        return {"Status": await run(self.backend.get_bucket_versioning, params["Bucket"])}

    async def put_bucket_notification_configuration(self, _context: RequestContext,
                                                    params: Params) -> Result:
        await run(self.backend.notifications.put_configuration, params["Bucket"],
                  params.get("NotificationConfiguration") or {},
                  params.get("SkipDestinationValidation", False))
        return {}

    async def get_bucket_notification_configuration(self, _context: RequestContext,
                                                    params: Params) -> Result:
        return await run(self.backend.notifications.get_configuration, params["Bucket"])

    # Listing ------------------------------------------------------------------------------

    async def list_objects_v2(self, _context: RequestContext, params: Params) -> Result:
        token = params.get("ContinuationToken")
        after = decode_token(token) if token is not None else params.get("StartAfter", "")
        page = await run(self.backend.list_objects, params["Bucket"],
                         **self._page_options(params), after=after)
        return {**self._listing(params, page, ("Delimiter", "Prefix", "StartAfter")),
                "KeyCount": len(page.objects) + len(page.prefixes), "ContinuationToken": token,
                "NextContinuationToken": encode_token(page.last) if page.truncated and page.last
                else None,
                "StartAfter": params.get("StartAfter")}

    async def list_objects(self, _context: RequestContext, params: Params) -> Result:
        page = await run(self.backend.list_objects, params["Bucket"],
                         **self._page_options(params), after=params.get("Marker", ""))
        # S3 names the next marker only when a delimiter is given (else it is the last key).
        next_marker = page.last if page.truncated and params.get("Delimiter") else None
        return {**self._listing(params, page, ("Delimiter", "Marker", "NextMarker"), owner=True),
                "Marker": params.get("Marker", ""), "NextMarker": next_marker}

    async def list_object_versions(self, _context: RequestContext, params: Params) -> Result:
        key_marker, version_marker = params.get("KeyMarker", ""), params.get("VersionIdMarker")
        if version_marker and not key_marker:
            raise InvalidArgument("A version-id marker cannot be specified without a key marker.",
                                  ArgumentName="version-id-marker", ArgumentValue=version_marker)
        page = await run(self.backend.list_versions, params["Bucket"],
                         **self._page_options(params), key_marker=key_marker,
                         version_marker=version_marker)
        listing = self._listing(params, page, ("Delimiter", "Prefix", "KeyMarker",
                                               "NextKeyMarker"), owner=True)
        contents = listing.pop("Contents")
        last = page.objects[-1] if page.objects and page.objects[-1].key == page.last else None
        return {**listing, "KeyMarker": key_marker, "VersionIdMarker": version_marker,
                "Versions": [{**entry, "VersionId": obj.version, "IsLatest": obj.latest}
                             for entry, obj in zip(contents, page.objects, strict=True)
                             if not obj.marker],
                "DeleteMarkers": [{"Key": entry["Key"], "VersionId": obj.version,
                                   "IsLatest": obj.latest, "LastModified": obj.modified,
                                   "Owner": OWNER}
                                  for entry, obj in zip(contents, page.objects, strict=True)
                                  if obj.marker],
                "NextKeyMarker": page.last if page.truncated else None,
                "NextVersionIdMarker": last.version if page.truncated and last else None}

    @staticmethod
    def _page_options(params: Params) -> dict[str, Any]:
        max_keys = params.get("MaxKeys", MAX_KEYS)
        if max_keys < 0:
            raise InvalidArgument("max-keys must not be negative.", ArgumentName="max-keys",
                                  ArgumentValue=str(max_keys))
        if params.get("EncodingType", "url") != "url":
            raise InvalidArgument("Invalid Encoding Method specified in Request; the only one is "
                                  "'url'.", ArgumentName="encoding-type",
                                  ArgumentValue=params["EncodingType"])
        return {"prefix": params.get("Prefix", ""), "delimiter": params.get("Delimiter"),
                "max_keys": min(max_keys, MAX_KEYS)}

    @staticmethod
    def _listing(params: Params, page: Page[StoredObject], encoded: tuple[str, ...],
                 owner: bool = False) -> dict[str, Any]:
        """The members the listings share; with encoding-type=url, keys and the fields in
        `encoded` are URL-encoded (the fields botocore decodes for that listing)."""
        url = params.get("EncodingType") == "url"

        def enc(value: str) -> str:
            return quote_plus(value, safe="/") if url else value

        contents = [{"Key": enc(o.key), "LastModified": o.modified, "ETag": o.etag,
                     "Size": o.size, "StorageClass": o.attrs.get("StorageClass", "STANDARD"),
                     "Owner": OWNER if owner or params.get("FetchOwner") else None,
                     **_listed_checksum(o)}
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
        attrs = self.object_attrs(params)
        await run(self.backend.get_bucket, params["Bucket"])  # before taking in the body
        async with receive_object(context, self.backend, params.get("ContentLength")) as body:
            obj = await run(self.backend.put_object, params["Bucket"], params["Key"], body,
                            attrs, if_match=params.get("IfMatch"),
                            if_none_match=params.get("IfNoneMatch"), origin=origin_of(context))
        return {"ETag": obj.etag, "VersionId": version_of(obj), **checksum_of(obj.attrs)}

    async def get_object(self, _context: RequestContext, params: Params) -> Result:
        if "PartNumber" in params:
            raise NotEmulated("sagepipe's local S3 does not emulate GetObject with partNumber; "
                              "use a Range instead.")
        return await self._read_object("GetObject", params, send_body=True)

    async def head_object(self, _context: RequestContext, params: Params) -> Result:
        return await self._read_object("HeadObject", params, send_body=False)

    async def _read_object(self, op_name: str, params: Params, send_body: bool) -> Response:
        obj, handle = await run(self.backend.open_object, params["Bucket"], params["Key"],
                                params.get("VersionId"))
        try:
            span = byte_range(params.get("Range"), obj.size)
            headers = self._object_headers(op_name, obj, params, whole=span is None)
            check_preconditions(obj.etag, obj.modified, if_match=params.get("IfMatch"),
                                if_none_match=params.get("IfNoneMatch"),
                                if_modified_since=params.get("IfModifiedSince"),
                                if_unmodified_since=params.get("IfUnmodifiedSince"))
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

    def _object_headers(self, op_name: str, obj: StoredObject, params: Params,
                        whole: bool) -> dict[str, str]:
        """GetObject's / HeadObject's headers; the checksum only when asked for and of the
        whole object (a range's bytes have no stored checksum)."""
        result = {name: obj.attrs[name] for name in STORED_MEMBERS if name in obj.attrs}
        result.update(ETag=obj.etag, LastModified=obj.modified, AcceptRanges="bytes",
                      VersionId=version_of(obj), TagCount=len(obj.attrs.get("TagSet", []))
                      or None)
        if result.get("StorageClass") == "STANDARD":
            del result["StorageClass"]  # S3 names the class only when it is not STANDARD
        if whole and params.get("ChecksumMode") == "ENABLED":
            result.update(checksum_of(obj.attrs))
        op = self.model.operation_model(op_name)
        result.update({header: header_text(params[name], op.input_shape.members[name]
                                           .serialization["name"])
                       for name, header in OVERRIDES.items() if name in params})
        return write_headers(op.output_shape, result)

    async def get_object_attributes(self, _context: RequestContext, params: Params) -> Result:
        wanted = params.get("ObjectAttributes", [])
        unknown = [name for name in wanted if name not in OBJECT_ATTRIBUTES]
        if unknown or not wanted:
            raise InvalidArgument("Invalid attribute name specified.",
                                  ArgumentName="x-amz-object-attributes",
                                  ArgumentValue=",".join(unknown))
        obj = await run(self.backend.head_object, params["Bucket"], params["Key"],
                        params.get("VersionId"))
        parts = obj.etag.strip('"').partition("-")[2]
        every = {"ETag": obj.etag.strip('"'), "Checksum": checksum_of(obj.attrs) or None,
                 "ObjectParts": {"TotalPartsCount": int(parts)} if parts else None,
                 "StorageClass": obj.attrs.get("StorageClass", "STANDARD"),
                 "ObjectSize": obj.size}
        return {"LastModified": obj.modified, "VersionId": version_of(obj),
                **{name: every[name] for name in wanted}}

    async def delete_object(self, context: RequestContext, params: Params) -> Result:
        deletion = await run(self.backend.delete_object, params["Bucket"], params["Key"],
                             params.get("VersionId"), origin_of(context))
        return {"DeleteMarker": deletion.marker or None, "VersionId": deletion.version}

    async def delete_objects(self, context: RequestContext, params: Params) -> Result:
        request = params.get("Delete")
        if request is None:
            raise malformed_xml("send a <Delete> document.")
        targets = [(entry.get("Key", ""), entry.get("VersionId"))
                   for entry in request.get("Objects", [])]
        if not 1 <= len(targets) <= MAX_DELETE_KEYS:
            raise malformed_xml(f"list 1 to {MAX_DELETE_KEYS} <Object> elements.")
        outcomes = await run(self.backend.delete_objects, params["Bucket"], targets,
                             origin_of(context))
        pairs = list(zip(targets, outcomes, strict=True))
        return {"Deleted": [] if request.get("Quiet") else
                [_deleted(version, outcome) for (_, version), outcome in pairs
                 if isinstance(outcome, Deletion)],
                "Errors": [{"Key": key, "VersionId": version, "Code": outcome.code,
                            "Message": outcome.message}
                           for (key, version), outcome in pairs
                           if isinstance(outcome, AWSError)]}

    async def copy_object(self, context: RequestContext, params: Params) -> Result:
        source = copy_source(params["CopySource"])
        directives = {}
        for member, header in (("MetadataDirective", "x-amz-metadata-directive"),
                               ("TaggingDirective", "x-amz-tagging-directive")):
            directives[member] = params.get(member, "COPY")
            if directives[member] not in ("COPY", "REPLACE"):
                raise InvalidArgument(f"Unknown {header}: use COPY or REPLACE.",
                                      ArgumentName=header, ArgumentValue=directives[member])
        attrs = self.object_attrs(params)
        original, obj = await run(
            self.backend.copy_object, source, params["Bucket"], params["Key"],
            attrs if directives["MetadataDirective"] == "REPLACE" else None,
            attrs.get("TagSet", []) if directives["TaggingDirective"] == "REPLACE" else None,
            _copy_conditions(params), origin_of(context))
        return {"CopyObjectResult": {"ETag": obj.etag, "LastModified": obj.modified,
                                     **checksum_of(obj.attrs)},
                "VersionId": version_of(obj), "CopySourceVersionId": version_of(original)}

    async def put_object_tagging(self, context: RequestContext, params: Params) -> Result:
        request = params.get("Tagging")
        if request is None:
            raise malformed_xml("send a <Tagging> document.")
        tags = check_tags(request.get("TagSet", []))
        obj = await run(self.backend.update_attrs, params["Bucket"], params["Key"],
                        params.get("VersionId"), lambda attrs: {**attrs, "TagSet": tags},
                        "ObjectTagging:Put", origin_of(context))
        return {"VersionId": version_of(obj)}

    async def get_object_tagging(self, _context: RequestContext, params: Params) -> Result:
        obj = await run(self.backend.head_object, params["Bucket"], params["Key"],
                        params.get("VersionId"))
        return {"VersionId": version_of(obj), "TagSet": obj.attrs.get("TagSet", [])}

    async def delete_object_tagging(self, context: RequestContext, params: Params) -> Result:
        obj = await run(self.backend.update_attrs, params["Bucket"], params["Key"],
                        params.get("VersionId"),
                        lambda attrs: {k: v for k, v in attrs.items() if k != "TagSet"},
                        "ObjectTagging:Delete", origin_of(context))
        return {"VersionId": version_of(obj)}

    # Multipart uploads --------------------------------------------------------------------

    async def create_multipart_upload(self, _context: RequestContext, params: Params) -> Result:
        attrs = self.object_attrs(params)
        algorithm = check_algorithm(params.get("ChecksumAlgorithm"))
        kind = params.get("ChecksumType")
        if kind is not None:
            if algorithm is None:
                raise InvalidRequest("The x-amz-checksum-type header can only be used with the "
                                     "x-amz-checksum-algorithm header.")
            if kind not in ("COMPOSITE", "FULL_OBJECT") or \
                    (kind == "FULL_OBJECT") != algorithm.startswith("crc") or \
                    (kind == "COMPOSITE" and algorithm == "crc64nvme"):
                raise InvalidRequest(f"The {algorithm.upper()} checksum does not support the "
                                     f"{kind} checksum type.")
        attrs.update(ChecksumAlgorithm=algorithm.upper() if algorithm else None,
                     ChecksumType=kind)
        upload = await run(self.backend.uploads.create_upload, params["Bucket"], params["Key"],
                           {name: value for name, value in attrs.items() if value is not None})
        return {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.id,
                "ChecksumAlgorithm": upload.attrs.get("ChecksumAlgorithm"),
                "ChecksumType": upload.attrs.get("ChecksumType")}

    async def upload_part(self, context: RequestContext, params: Params) -> Result:
        check_part_number(params["PartNumber"])
        upload = await run(self.backend.uploads.get_upload, params["Bucket"], params["Key"],
                           params["UploadId"])
        declared = upload.attrs.get("ChecksumAlgorithm")
        async with receive_object(context, self.backend, params.get("ContentLength"),
                                  declared.lower() if declared else None) as body:
            part = await run(self.backend.uploads.upload_part, upload, params["PartNumber"], body)
        checksum = {checksum_member(body.digests.algorithm): body.digests.part_checksum()} \
            if declared or body.digests.client_algorithm else {}
        return {"ETag": part.etag, **checksum}

    async def upload_part_copy(self, _context: RequestContext, params: Params) -> Result:
        check_part_number(params["PartNumber"])
        upload = await run(self.backend.uploads.get_upload, params["Bucket"], params["Key"],
                           params["UploadId"])
        original, handle = await run(self.backend.open_copy_source,
                                     *copy_source(params["CopySource"]),
                                     _copy_conditions(params))
        with handle:
            first, length = copy_range(params.get("CopySourceRange"), original.size)
            part, body = await run(self.backend.uploads.copy_part, upload, params["PartNumber"],
                                   handle, first, length)
        checksum = {checksum_member(body.digests.algorithm): body.digests.part_checksum()} \
            if upload.attrs.get("ChecksumAlgorithm") else {}
        return {"CopyPartResult": {"ETag": part.etag, "LastModified": part.modified, **checksum},
                "CopySourceVersionId": version_of(original)}

    async def complete_multipart_upload(self, context: RequestContext, params: Params) -> Result:
        upload = await run(self.backend.uploads.get_upload, params["Bucket"], params["Key"],
                           params["UploadId"])
        chosen = [(part.get("PartNumber"), part.get("ETag", ""),
                   {name: value for name, value in part.items() if name.startswith("Checksum")})
                  for part in params.get("MultipartUpload", {}).get("Parts", [])]
        if any(number is None for number, _, _ in chosen):
            raise malformed_xml("every <Part> needs a <PartNumber>.")
        algorithm, kind = upload_checksum(upload.attrs)
        whole = params.get(checksum_member(algorithm)) if kind == "FULL_OBJECT" else None
        obj = await run(self.backend.uploads.complete_upload, upload, chosen,
                        if_match=params.get("IfMatch"), if_none_match=params.get("IfNoneMatch"),
                        whole=whole, origin=origin_of(context))
        base = str(context.request.base_url).rstrip("/")
        location = f"{base}/{upload.bucket}/{quote(upload.key)}"
        return {"Location": location, "Bucket": upload.bucket, "Key": upload.key,
                "ETag": obj.etag, "VersionId": version_of(obj), **checksum_of(obj.attrs)}

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
                "StorageClass": upload.attrs.get("StorageClass", "STANDARD"),
                "ChecksumAlgorithm": upload.attrs.get("ChecksumAlgorithm"),
                "ChecksumType": upload.attrs.get("ChecksumType")}


def _copy_conditions(params: Params) -> dict[str, Any]:
    """A copy's x-amz-copy-source-if-* conditions, as check_preconditions' keywords."""
    return {"if_match": params.get("CopySourceIfMatch"),
            "if_none_match": params.get("CopySourceIfNoneMatch"),
            "if_modified_since": params.get("CopySourceIfModifiedSince"),
            "if_unmodified_since": params.get("CopySourceIfUnmodifiedSince")}


def _listed_checksum(obj: StoredObject) -> dict[str, Any]:
    """A listing names an object's checksum algorithm and type (not its value)."""
    checksum = checksum_of(obj.attrs)
    algorithms = [name.removeprefix("Checksum") for name in checksum if name != "ChecksumType"]
    return {"ChecksumAlgorithm": algorithms or None,
            "ChecksumType": checksum.get("ChecksumType")}


def _deleted(version: str | None, deletion: Deletion) -> dict[str, Any]:
    """A DeleteObjects <Deleted> entry: the version asked for, and the delete marker made or
    removed."""
    entry: dict[str, Any] = {"Key": deletion.key, "VersionId": version}
    if deletion.marker:
        entry.update(DeleteMarker=True, DeleteMarkerVersionId=deletion.version)
    return entry
