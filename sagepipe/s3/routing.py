"""Which S3 operation a request is, read from botocore's model of the S3 API.

Each operation's HTTP method and URI template (`/{Bucket}/{Key+}?uploads`) say what it matches:
a method, a target (the service, a bucket, an object) and fixed query keys; its required query
and header members narrow it down further (an UploadPart has `partNumber` and `uploadId`, a
CopyObject has `x-amz-copy-source`). The operation whose requirements the request meets most
specifically wins, so every request to an S3 API is named, implemented or not.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_to_bytes

from botocore.model import OperationModel, ServiceModel

from sagepipe.errors import AWSError

TARGETS = {"/": "service", "/{Bucket}": "bucket", "/{Bucket}/{Key+}": "object"}
VIRTUAL_HOST_SUFFIX = ".localhost"


@dataclass(frozen=True)
class Route:
    op: OperationModel
    method: str
    target: str
    fixed_query: tuple[tuple[str, str], ...]  # ("uploads", "") or ("list-type", "2")
    query_members: tuple[str, ...]
    header_members: tuple[str, ...]

    @classmethod
    def of(cls, op: OperationModel) -> Route | None:
        path, _, query = op.http["requestUri"].partition("?")
        target = TARGETS.get(path)
        if target is None:  # e.g. /WriteGetObjectResponse, an S3 Object Lambda endpoint
            return None
        required = op.input_shape.required_members if op.input_shape else []
        located = [(op.input_shape.members[name].serialization.get("location"),
                    op.input_shape.members[name].serialization.get("name", name))
                   for name in required]
        return cls(op, op.http["method"], target,
                   tuple(parse_qsl(query, keep_blank_values=True)),
                   tuple(wire for loc, wire in located if loc == "querystring"),
                   tuple(wire for loc, wire in located if loc == "header"))

    def accepts(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return (all(key in query and (not value or query[key] == value)
                    for key, value in self.fixed_query)
                and all(key in query for key in self.query_members)
                and all(key in headers for key in self.header_members))

    @property
    def specificity(self) -> int:
        return len(self.fixed_query) + len(self.query_members) + len(self.header_members)


class Router:
    def __init__(self, model: ServiceModel, implemented: Collection[str]) -> None:
        self.routes = [r for name in model.operation_names
                       if (r := Route.of(model.operation_model(name))) is not None]
        self.implemented = set(implemented)

    def match(self, method: str, target: str, query: Mapping[str, str],
              headers: Mapping[str, str]) -> OperationModel:
        candidates = [r for r in self.routes if r.method == method and r.target == target
                      and r.accepts(query, headers)]
        if not candidates:
            raise AWSError("MethodNotAllowed", "The specified method is not allowed against "
                           "this resource.", 405, Method=method,
                           ResourceType={"service": "SERVICE", "bucket": "BUCKET",
                                         "object": "OBJECT"}[target])
        best = max(candidates, key=lambda r: (r.specificity, r.op.name in self.implemented,
                                              not r.op.deprecated))
        return best.op


def locate(host: str, raw_path: bytes) -> tuple[str | None, str | None]:
    """(bucket, key) of a request, path-style (`/bucket/key`) or virtual-host style
    (`Host: bucket.localhost:port`); the key keeps every byte (`//`, `..`, a trailing `/`)."""
    try:
        path = unquote_to_bytes(raw_path).decode()
    except UnicodeDecodeError:
        raise AWSError("InvalidURI", "Couldn't parse the specified URI: the path is not "
                       "UTF-8.") from None
    hostname = host.rpartition(":")[0] if ":" in host else host
    if hostname.endswith(VIRTUAL_HOST_SUFFIX):
        bucket, key = hostname.removesuffix(VIRTUAL_HOST_SUFFIX), path[1:]
    else:
        bucket, _, key = path[1:].partition("/")
    return bucket or None, key or None
