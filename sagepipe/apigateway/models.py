"""Lambda functions and the REST APIs in front of them, as a SAM (Chalice) stack creates them.

A function is its code's S3 location and configuration. Each REST API is served by one host
process (host.py) running its function's code, on a 127.0.0.1 port that the API keeps for good
(its URL). Functions and APIs are documents in their own tables of the store
(`lambda_functions`, `apigateway_rest_apis`); like endpoints, the processes stop with the
gateway and are started again when it starts.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

from sagepipe.apigateway.definition import ApiDefinition
from sagepipe.apigateway.exceptions import (
    BadRequestException,
    ConflictException,
    InvalidParameterValueException,
    NotFoundException,
    ResourceInUse,
    ResourceNotFound,
)
from sagepipe.clients import local_env
from sagepipe.config import HOST, Settings, arn
from sagepipe.documents import Document, Documents
from sagepipe.errors import AWSError
from sagepipe.instances import port_taken
from sagepipe.processes import (
    NotReady,
    accepts_connections,
    free_port,
    kill_stale,
    log_tail,
    start_and_wait,
    start_ticks,
    terminate,
)
from sagepipe.s3.object_store import ObjectStore
from sagepipe.store import Store

log = logging.getLogger(__name__)

FUNCTION, API = "function", "rest-api"  # the kinds of document in the two tables
READY_TIMEOUT = 60.0
STOP_GRACE = 5.0
HANDLER = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
STAGE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")


def invalid(message: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(message)


def code_uri(value: Any) -> str:
    """SAM's CodeUri once packaged: `s3://bucket/key` or `{Bucket, Key}`."""
    if isinstance(value, dict) and value.get("Bucket") and value.get("Key"):
        return f"s3://{value['Bucket']}/{value['Key']}"
    if isinstance(value, str) and value.startswith("s3://"):
        return value
    raise invalid(f"CodeUri {value!r} is not in S3: package the template first (`aws "
                  "cloudformation package` uploads the code and rewrites CodeUri, as the "
                  "PackageApi build does)")


def _bounded(params: dict[str, Any], key: str, default: int, maximum: int) -> int:
    """An integer setting as Lambda bounds it (CloudFormation may pass it as a string)."""
    value = params.get(key, default)
    if not str(value).isdigit() or not 1 <= int(value) <= maximum:
        raise invalid(f"{key} {value!r} must be an integer from 1 to {maximum}")
    return int(value)


class ApiHosting:
    def __init__(self, store: Store, settings: Settings, s3: ObjectStore) -> None:
        self.functions = Documents(store, "lambda_functions", not_found=ResourceNotFound,
                                   in_use=ResourceInUse)
        self.apis = Documents(store, "apigateway_rest_apis", not_found=ResourceNotFound,
                              in_use=ResourceInUse)
        self.settings = settings
        self.s3 = s3
        self._servers: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()

    # -- functions ---------------------------------------------------------------------------

    def put_function(self, name: str, params: dict[str, Any]) -> Document:
        """Create or update a function; the APIs it serves restart on the new code."""
        code = code_uri(params.get("CodeUri"))
        if not self.s3.exists(code):
            raise invalid(f"the function's code {code} does not exist in S3")
        handler, runtime = str(params.get("Handler", "")), str(params.get("Runtime", ""))
        if not HANDLER.match(handler):
            raise invalid(f"Handler {handler!r} must name module.attribute (e.g. app.app)")
        if not runtime.startswith("python3"):
            raise invalid(f"Runtime {runtime!r} is not emulated: functions run locally on "
                          "sagepipe's own Python, so only python3.x runtimes are accepted")
        variables = (params.get("Environment") or {}).get("Variables") or {}
        doc = {"FunctionName": name, "FunctionArn": arn("lambda", f"function:{name}"),
               "CodeUri": code, "Handler": handler, "Runtime": runtime,
               "Timeout": _bounded(params, "Timeout", 3, 900),
               "MemorySize": _bounded(params, "MemorySize", 128, 10240),
               "Environment": {str(k): str(v) for k, v in variables.items()}}
        with self._lock:
            self.functions.put(FUNCTION, name, doc)
            for api in self.apis.all(API):
                if api["FunctionName"] == name:
                    self._serve_and_save(api)
        return doc

    def delete_function(self, name: str) -> None:
        with self._lock:
            users = [api["Id"] for api in self.apis.all(API) if api["FunctionName"] == name]
            if users:
                raise ResourceInUse(f"function {name} is behind REST API(s) {', '.join(users)}; "
                             "delete them first")
            self.functions.delete(FUNCTION, name)

    # -- REST APIs ---------------------------------------------------------------------------

    def put_api(self, api_id: str, params: dict[str, Any]) -> Document:
        """Create or update an API and (re)start its server; the document says where it is."""
        definition = ApiDefinition.parse(params.get("DefinitionBody"))
        stage = str(params.get("StageName", ""))
        if not STAGE.match(stage):
            raise invalid(f"StageName {stage!r} must be 1-128 letters, digits, '-' or '_'")
        if self.functions.find(FUNCTION, definition.function) is None:
            raise NotFoundException(f"the API's integrations call function "
                                    f"{definition.function}, which does not exist")
        with self._lock:
            previous = self.apis.find(API, api_id) or {}
            return self._serve_and_save({
                "Id": api_id, "StageName": stage, "DefinitionBody": params["DefinitionBody"],
                "FunctionName": definition.function, "Port": previous.get("Port", 0)})

    def delete_api(self, api_id: str) -> None:
        with self._lock:
            self._stop(api_id)
            self.apis.delete(API, api_id)
            shutil.rmtree(self.settings.subdir("apis") / api_id, ignore_errors=True)

    def list_apis(self) -> list[Document]:
        return [{k: v for k, v in api.items() if k != "DefinitionBody"}
                for api in self.apis.all(API)]

    # -- gateway lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Kill what a crashed gateway left serving and bring every API back (in background)."""
        self._stopping.clear()
        apis = self.apis.all(API)
        for api in apis:
            kill_stale([api["Process"]] if api.get("Process") else [])
        threading.Thread(target=self._restore, args=(apis,), name="restore-apis",
                         daemon=True).start()

    def _restore(self, apis: list[Document]) -> None:
        for api in apis:
            with self._lock:
                if self._stopping.is_set() or self.apis.find(API, api["Id"]) is None:
                    continue  # the gateway is stopping, or the API was deleted meanwhile
                try:
                    self._serve_and_save(api)
                except AWSError as exc:
                    log.error("REST API %s could not be restored: %s", api["Id"], exc.message)

    def shutdown(self) -> None:
        self._stopping.set()
        with self._lock:
            for api_id in list(self._servers):
                self._stop(api_id)

    # -- internals ---------------------------------------------------------------------------

    def _serve_and_save(self, api: Document) -> Document:
        """Serve `api` and save where; if it cannot start, an existing API is saved as Failed
        with the reason (a new one is not saved) and the error is raised."""
        try:
            doc = self._serve(api)
        except AWSError as exc:
            if self.apis.find(API, api["Id"]) is not None:
                self.apis.put(API, api["Id"], {**api, "Status": "Failed", "Url": None,
                                            "FailureReason": exc.message, "Process": None})
            raise
        self.apis.put(API, api["Id"], doc)
        return doc

    def _serve(self, api: Document) -> Document:
        """(Re)start `api`'s server and wait until it accepts connections; returns the document
        with where it serves. An API keeps its port for good (its URL is what its users call):
        if something else holds the port, the API fails with that reason instead of moving."""
        self._stop(api["Id"])
        function = self.functions.get(FUNCTION, api["FunctionName"])
        root = self.settings.subdir("apis") / api["Id"]
        code = self._unpack(function["CodeUri"], root)
        port = api.get("Port") or free_port()
        if taken := port_taken(port):
            raise ConflictException(f"cannot serve the API on its port: {taken}. Its URL keeps "
                                    "that port: stop that process, then restart the local AWS "
                                    "(`sagepipe down`, `sagepipe up`)")
        spec = root / "host.json"
        spec.write_text(json.dumps({
            "code": str(code), "handler": function["Handler"], "port": port,
            "stage": api["StageName"], "definition": api["DefinitionBody"],
            "function": function["FunctionName"], "timeout": function["Timeout"],
            "memory": function["MemorySize"], "region": self.settings.region,
            "home": str(self.settings.home)}))
        log_path = self.settings.subdir("logs") / "Apis" / f"{api['Id']}.log"
        env = {**{k: os.environ[k] for k in PASSED_ENV if k in os.environ},
               **function["Environment"], **local_env(self.settings),
               "AWS_LAMBDA_FUNCTION_NAME": function["FunctionName"],
               "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function["MemorySize"]),
               "PYTHONUNBUFFERED": "1"}
        try:
            proc = start_and_wait([sys.executable, "-m", "sagepipe.apigateway.host", str(spec)],
                                  log_path, lambda: accepts_connections(port), READY_TIMEOUT,
                                  grace=STOP_GRACE, env=env, cwd=root)
        except NotReady as failure:
            raise BadRequestException(
                f"the API's server did not start ({failure}); log {log_path}, last lines:\n"
                f"{log_tail(log_path)}") from None
        self._servers[api["Id"]] = proc
        url = f"http://{HOST}:{port}/{api['StageName']}/"
        log.info("REST API %s (function %s) serving on %s", api["Id"], function["FunctionName"],
                 url)
        return {**api, "Port": port, "Url": url, "Status": "Serving", "FailureReason": None,
                "Process": [proc.pid, start_ticks(proc.pid) or 0], "LogPath": str(log_path)}

    def _unpack(self, uri: str, root: Path) -> Path:
        """The deployment package at `uri`, unzipped into a fresh `root/code`."""
        code = root / "code"
        shutil.rmtree(code, ignore_errors=True)
        code.mkdir(parents=True)
        archive = self.s3.download_object(uri, root / "code.zip")
        try:
            with zipfile.ZipFile(archive) as package:
                package.extractall(code)
        except zipfile.BadZipFile as exc:
            raise invalid(f"the function's code {uri} is not a zip archive ({exc})") from None
        finally:
            archive.unlink()
        return code

    def _stop(self, api_id: str) -> None:
        proc = self._servers.pop(api_id, None)
        if proc is None or proc.poll() is not None:
            return
        terminate(proc, STOP_GRACE)
