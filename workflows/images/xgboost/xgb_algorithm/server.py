"""The inference HTTP app (WSGI) as SageMaker hosting calls it: `GET /ping`, `POST /invocations`.

Answers as the built-in algorithm does: `text/csv` predictions separated by commas for an
endpoint, one per line in a batch transform (SageMaker sets SAGEMAKER_BATCH there), or a JSON
array for `Accept: application/json`. Bad requests get a 4xx and a one-line text/plain message.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import IO
from wsgiref.types import WSGIEnvironment

import numpy as np
import orjson
import xgboost

from xgb_algorithm.formats import CSV, LIBSVM, DataError, parse_csv, parse_libsvm
from xgb_algorithm.paths import MODEL_FILE, model_dir

JSON = "application/json"
REQUEST_TYPES = {CSV: CSV, LIBSVM: LIBSVM, "text/x-libsvm": LIBSVM}
MAX_BODY = 6 * 1024 * 1024  # SageMaker's InvokeEndpoint payload limit
# Before an early answer the rest of the body is read and dropped, up to this size: clients
# write their whole body before they read, and a server that closes on unread bytes resets the
# connection, so the client would see "server disconnected" instead of the answer.
DRAIN_LIMIT = 64 * 1024 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class HTTPError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def answer_type(accept: str) -> str:
    """text/csv unless the Accept header prefers JSON; 406 when it allows neither."""
    ranked = []
    for item in accept.split(","):
        kind, *params = (part.strip().lower() for part in item.split(";"))
        quality = next((float(value) for name, _, value in (p.partition("=") for p in params)
                        if name.strip() == "q" and value.replace(".", "", 1).isdigit()), 1.0)
        offered = {"": CSV, "*/*": CSV, "text/*": CSV, CSV: CSV, "application/*": JSON,
                   JSON: JSON}.get(kind)
        if offered and quality > 0:
            ranked.append((quality, offered == CSV, offered))
    if not ranked:
        raise HTTPError(HTTPStatus.NOT_ACCEPTABLE,
                        f"cannot answer in Accept: {accept}; ask for {CSV} or {JSON}")
    return max(ranked)[2]


def declared_length(environ: WSGIEnvironment) -> int | None:
    length = str(environ.get("CONTENT_LENGTH") or "")
    return int(length) if length.isdigit() else None


def read_body(environ: WSGIEnvironment) -> bytes:
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


def encode(predictions: np.ndarray, media: str, batch: bool) -> bytes:
    """As the built-in: numbers as Python prints them; a row of class probabilities
    (multi:softprob) is one comma-separated line."""
    values = predictions.tolist()
    if media == JSON:
        return orjson.dumps(values)
    if predictions.ndim == 2:
        return "".join(",".join(map(str, row)) + "\n" for row in values).encode()
    return ("".join(f"{value}\n" for value in values) if batch
            else ",".join(map(str, values))).encode()


class InferenceApp:
    def __init__(self, booster: xgboost.Booster, batch: bool) -> None:
        booster.set_param({"nthread": 1})  # one process per core
        self.booster = booster
        self.width = booster.num_features()
        self.batch = batch

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, content_type, body = self.route(environ)
        except HTTPError as error:
            status, content_type = error.status, "text/plain; charset=utf-8"
            body = f"{error}\n".encode()
            drain(environ)
        except Exception:
            traceback.print_exc()
            status, content_type, body = HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain", b""
            drain(environ)
        start_response(f"{status.value} {status.phrase}",
                       [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def route(self, environ: WSGIEnvironment) -> tuple[HTTPStatus, str, bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/ping" and method in ("GET", "HEAD"):
            return HTTPStatus.OK, "text/plain", b""
        if path == "/invocations" and method == "POST":
            return self.invoke(environ)
        if path in ("/ping", "/invocations"):
            raise HTTPError(HTTPStatus.METHOD_NOT_ALLOWED,
                            f"{method} {path} is not allowed: use GET /ping, POST /invocations")
        raise HTTPError(HTTPStatus.NOT_FOUND, f"no {path}: use GET /ping, POST /invocations")

    def invoke(self, environ: WSGIEnvironment) -> tuple[HTTPStatus, str, bytes]:
        given = str(environ.get("CONTENT_TYPE") or "")
        request_type = REQUEST_TYPES.get(media_type(given) or CSV)
        if request_type is None:
            raise HTTPError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                            f"Content-Type {given} is not supported; send {CSV} (rows of "
                            f"{self.width} features, no label, no header) or {LIBSVM}")
        media = answer_type(str(environ.get("HTTP_ACCEPT") or ""))
        body = read_body(environ)
        if not body.strip():
            raise HTTPError(HTTPStatus.BAD_REQUEST,
                            f"empty body: send rows of {self.width} features")
        try:
            table = (parse_csv(body, label=False) if request_type == CSV
                     else parse_libsvm(body, label=False, width=self.width))
        except DataError as error:
            raise HTTPError(HTTPStatus.BAD_REQUEST, str(error)) from None
        if table.width != self.width:
            raise HTTPError(HTTPStatus.BAD_REQUEST,
                            f"rows have {table.width} values, the model takes {self.width} "
                            "features (send the features only: no label column, no header)")
        predictions = self.booster.inplace_predict(table.features)
        return HTTPStatus.OK, media, encode(predictions, media, self.batch)


def create_app() -> InferenceApp:
    """The app of one server worker, with the model in SM_MODEL_DIR loaded (granian factory)."""
    path = model_dir() / MODEL_FILE
    try:
        booster = xgboost.Booster(model_file=bytearray(path.read_bytes()))
    except OSError as error:
        reason = f"cannot read {path}: {error.strerror} (is it the output of `train`?)"
    except xgboost.core.XGBoostError as error:
        reason = f"{path} is not an XGBoost model: {str(error).splitlines()[0]}"
    else:
        return InferenceApp(booster, batch=bool(os.environ.get("SAGEMAKER_BATCH")))
    print(f"serve: cannot load the model: {reason}", file=sys.stderr, flush=True)
    raise SystemExit(1)
