"""The inference HTTP app (WSGI), as SageMaker hosting calls it: `GET /ping` and
`POST /invocations`.

Bad requests get a 4xx and a one-line text/plain message saying what is wrong; an unexpected
error gets a bare 500 (details in the log only).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import IO
from wsgiref.types import WSGIEnvironment

import orjson

from titanic import paths
from titanic.payload import CSV, JSON, PARSERS, PayloadError, decode, encode
from titanic.runtime import ModelError, Predictor

MAX_BODY = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint payload limit
# Before an early answer (413, 415, 406, ...) the rest of the body is read and dropped, up to
# this size: clients write their whole body before they read, and a server that closes on
# unread bytes resets the connection, so the client sees "server disconnected", not the answer.
# Beyond it the answer goes out at once: reading more would cost more than it saves.
DRAIN_LIMIT = 64 * 1024 * 1024
SUPPORTED = f"{CSV} or {JSON}"
ALLOWED = {"/ping": "GET, HEAD", "/invocations": "POST"}

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class HTTPError(Exception):
    def __init__(self, status: HTTPStatus, message: str,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def response_type(accept: str, request_type: str) -> str:
    """The answer's media type: the acceptable one with the highest q, the request's own type
    on a tie, for `*/*` or without an Accept header."""
    best: tuple[float, bool, str] | None = None
    for item in accept.split(","):
        kind, *params = (part.strip().lower() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        for offered in (request_type, CSV if request_type == JSON else JSON):
            if quality > 0 and kind in (offered, f"{offered.split('/')[0]}/*", "*/*", ""):
                candidate = (quality, offered == request_type, offered)
                best = candidate if best is None else max(best, candidate)
    if best is None:
        raise HTTPError(HTTPStatus.NOT_ACCEPTABLE,
                        f"cannot answer in Accept: {accept}; ask for {SUPPORTED}")
    return best[2]


def declared_length(environ: WSGIEnvironment) -> int | None:
    """The Content-Length, or None for a chunked body (its size shows only while reading)."""
    length = str(environ.get("CONTENT_LENGTH") or "")
    return int(length) if length.isdigit() else None


def read_body(environ: WSGIEnvironment) -> bytes:
    """The request body; a 413 as soon as it is known to be larger than SageMaker allows."""
    too_large = HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"body larger than {MAX_BODY} bytes (6 MB); send smaller batches")
    length = declared_length(environ)
    if length is not None and length > MAX_BODY:
        raise too_large
    body = environ["wsgi.input"].read(MAX_BODY + 1 if length is None else length)
    if len(body) > MAX_BODY:
        raise too_large
    return body


def drain(environ: WSGIEnvironment) -> None:
    """Read and drop what is left of the request body, up to DRAIN_LIMIT."""
    length = declared_length(environ)
    if length is not None and length > DRAIN_LIMIT:
        return
    stream: IO[bytes] = environ["wsgi.input"]
    left = DRAIN_LIMIT
    while left > 0:
        chunk = stream.read(min(left, 1024 * 1024))
        if not chunk:
            return
        left -= len(chunk)


class InferenceApp:
    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.ping_body = orjson.dumps({"status": "ok", "model_version": predictor.version})

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        headers: tuple[tuple[str, str], ...] = ()
        try:
            status, content_type, body = self.route(environ)
        except HTTPError as error:
            status, content_type, headers = error.status, "text/plain; charset=utf-8", error.headers
            body = f"{error}\n".encode()
            drain(environ)
        except Exception:
            traceback.print_exc()
            status, content_type, body = HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain", b""
            drain(environ)
        start_response(f"{status.value} {status.phrase}",
                       [("Content-Type", content_type), ("Content-Length", str(len(body))),
                        *headers])
        return [body]

    def route(self, environ: WSGIEnvironment) -> tuple[HTTPStatus, str, bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/ping" and method in ("GET", "HEAD"):
            return HTTPStatus.OK, JSON, self.ping_body
        if path == "/invocations" and method == "POST":
            return self.invoke(environ)
        if path in ALLOWED:
            raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED,
                            f"{method} {path} is not allowed: use GET /ping, POST /invocations",
                            (("Allow", ALLOWED[path]),))
        raise HTTPError(HTTPStatus.NOT_FOUND, f"no {path}: use GET /ping, POST /invocations")

    def invoke(self, environ: WSGIEnvironment) -> tuple[HTTPStatus, str, bytes]:
        content_type = str(environ.get("CONTENT_TYPE") or "")
        request_type = media_type(content_type)
        if request_type not in PARSERS:
            raise HTTPError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                            f"Content-Type {content_type or '(none)'} is not supported; "
                            f"send {SUPPORTED}")
        answer_type = response_type(str(environ.get("HTTP_ACCEPT") or ""), request_type)
        try:
            passengers = PARSERS[request_type](decode(read_body(environ)),
                                               self.predictor.preprocessor.parse)
        except PayloadError as error:
            raise HTTPError(HTTPStatus.BAD_REQUEST, str(error)) from None
        labels, probabilities = self.predictor.predict(passengers)
        return HTTPStatus.OK, answer_type, encode(answer_type, labels, probabilities,
                                                  self.predictor.version)


def create_app() -> InferenceApp:
    """The app of one server worker, with the model in SM_MODEL_DIR loaded (granian factory)."""
    try:
        return InferenceApp(Predictor.load(paths.model_dir()))
    except ModelError as error:
        print(f"serve: cannot load the model: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
