"""REST APIs as a SAM (Chalice) stack creates them: each is a document of the store
(`apigateway_rest_apis`) and is served, while the local AWS runs, by its front end
(frontend.py) on a 127.0.0.1 port that the API keeps for good (its URL), in a thread of the
local AWS. Its routes invoke functions of the local Lambda: API Gateway is only the front door;
the functions run in the one Lambda runtime.

When the local AWS starts, every API is served again on its port; if something else holds
that port, the API is saved as Failed with the reason, rather than moved to another URL.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from typing import Any

import uvicorn

from sagepipe.apigateway.definition import ApiDefinition
from sagepipe.apigateway.exceptions import (
    BadRequestException,
    ConflictException,
    NotFoundException,
)
from sagepipe.apigateway.frontend import FrontEnd, Stage
from sagepipe.awslambda.models import LambdaBackend
from sagepipe.config import HOST, Settings
from sagepipe.documents import Document, Documents
from sagepipe.errors import AWSError
from sagepipe.instances import port_taken
from sagepipe.processes import free_port
from sagepipe.store import Store

log = logging.getLogger(__name__)

API = "rest-api"
READY_TIMEOUT = 10.0
STOP_GRACE = 5.0
STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class ApiServer:
    """One API's front end served by uvicorn on its own socket, in a thread of its own."""

    def __init__(self, app: FrontEnd, sock: socket.socket) -> None:
        self.sock = sock
        self.server = uvicorn.Server(uvicorn.Config(
            app, access_log=False, log_level="warning", lifespan="off",
            timeout_graceful_shutdown=int(STOP_GRACE)))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       name=f"api-{app.stage.api_id}", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BadRequestException("the API's front end did not start; see the gateway "
                                          "log (`sagepipe logs gateway`)")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(STOP_GRACE + 1)
        self.sock.close()


class ApiHosting:
    def __init__(self, store: Store, settings: Settings, functions: LambdaBackend) -> None:
        self.apis = Documents(store, "apigateway_rest_apis", not_found=NotFoundException,
                              in_use=ConflictException)
        self.settings = settings
        self.functions = functions
        self._servers: dict[str, ApiServer] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()

    def put_api(self, api_id: str, params: dict[str, Any]) -> Document:
        """Create or update an API and (re)start its front end; the document says where it
        serves."""
        definition = ApiDefinition.parse(params.get("DefinitionBody"))
        stage = str(params.get("StageName", ""))
        if not STAGE_NAME.match(stage):
            raise BadRequestException(f"StageName {stage!r} must be 1-128 letters, digits, '-' "
                                      "or '_'")
        for function in sorted(definition.functions):
            if not self.functions.exists(function):
                raise NotFoundException(f"the API's integrations call function {function}, "
                                        "which does not exist")
        with self._lock:
            previous = self.apis.find(API, api_id) or {}
            return self._serve_and_save({
                "Id": api_id, "StageName": stage, "DefinitionBody": params["DefinitionBody"],
                "Port": previous.get("Port", 0)})

    def delete_api(self, api_id: str) -> None:
        with self._lock:
            self._stop(api_id)
            self.apis.delete(API, api_id)

    def list_apis(self) -> list[Document]:
        return [{k: v for k, v in api.items() if k != "DefinitionBody"}
                for api in self.apis.all(API)]

    # -- local AWS lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Serve every API again (in the background: a port may take a moment to be free)."""
        self._stopping.clear()
        threading.Thread(target=self._restore, args=(self.apis.all(API),), name="restore-apis",
                         daemon=True).start()

    def _restore(self, apis: list[Document]) -> None:
        for api in apis:
            with self._lock:
                if self._stopping.is_set() or self.apis.find(API, api["Id"]) is None:
                    continue  # the local AWS is stopping, or the API was deleted meanwhile
                try:
                    self._serve_and_save(api)
                except AWSError as exc:
                    log.error("REST API %s could not be restored: %s", api["Id"], exc.message)

    def shutdown(self) -> None:
        self._stopping.set()
        with self._lock:
            for api_id in list(self._servers):
                self._stop(api_id)

    # -- internals -----------------------------------------------------------------------------
    def _serve_and_save(self, api: Document) -> Document:
        """Serve `api` and save where; if it cannot, an existing API is saved as Failed with
        the reason (a new one is not saved) and the error is raised."""
        try:
            doc = self._serve(api)
        except AWSError as exc:
            if self.apis.find(API, api["Id"]) is not None:
                self.apis.put(API, api["Id"], {**api, "Status": "Failed", "Url": None,
                                               "FailureReason": exc.message})
            raise
        self.apis.put(API, api["Id"], doc)
        return doc

    def _serve(self, api: Document) -> Document:
        self._stop(api["Id"])
        port = api.get("Port") or free_port()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            sock.close()
            taken = port_taken(port) or f"port {port} is taken"
            raise ConflictException(f"cannot serve the API on its port: {taken}. Its URL keeps "
                                    "that port: stop that process, then restart the local AWS "
                                    "(`sagepipe down`, `sagepipe up`)") from None
        sock.listen(128)
        definition = ApiDefinition.parse(api["DefinitionBody"])
        stage = Stage(api["Id"], api["StageName"], definition, self.settings.region)
        server = ApiServer(FrontEnd(stage, self.functions.invoke_function,
                                    self.settings.credentials.secrets), sock)
        server.start()
        self._servers[api["Id"]] = server
        url = f"http://{HOST}:{port}/{api['StageName']}/"
        functions = sorted(definition.functions)
        log.info("REST API %s (functions %s) serving on %s", api["Id"], ", ".join(functions), url)
        return {**api, "Port": port, "Url": url, "Status": "Serving", "FailureReason": None,
                "Functions": functions}

    def _stop(self, api_id: str) -> None:
        server = self._servers.pop(api_id, None)
        if server is not None:
            server.stop()
