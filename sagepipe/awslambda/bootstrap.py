"""The inside of one Lambda sandbox: `python -m sagepipe.awslambda.bootstrap SOCKET`.

It does what AWS's Python runtime interface client does, over a Unix socket to the local Lambda
(runtime.py) instead of the Runtime API: imports the function's handler once (`_HANDLER`, from
the code directory `LAMBDA_TASK_ROOT`, first on sys.path), says it is ready, then answers one
invocation at a time for as long as the local Lambda keeps it warm: the event, a context
object, the handler's result as JSON, or the error as AWS shapes it (`errorMessage`,
`errorType`, `requestId`, `stackTrace`). stdout and stderr are the function's log; the local
Lambda reads them.

A handler that calls exit ends the process, as in AWS: the local Lambda reports
`Runtime.ExitError`. Standard library only, so that the sandbox starts fast and the function
sees only its own code and the project's packages. The frame format below is also what
runtime.py speaks (it imports `send` and `receive` from here).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import struct
import sys
import threading
import time
import traceback
from typing import Any

FRAME = struct.Struct(">II")  # header length, body length; then the JSON header, the body
MAX_RESPONSE = 6 * 1024 * 1024 + 100  # Lambda's limit on a response payload (6291556 bytes)
LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"


def send(sock: socket.socket, header: dict[str, Any], body: bytes = b"") -> None:
    head = json.dumps(header).encode()
    sock.sendall(FRAME.pack(len(head), len(body)) + head + body)


def receive(sock: socket.socket) -> tuple[dict[str, Any], bytes] | None:
    """The next frame, None once the other end has closed."""
    sizes = _exactly(sock, FRAME.size)
    if sizes is None:
        return None
    head_size, body_size = FRAME.unpack(sizes)
    head, body = _exactly(sock, head_size), _exactly(sock, body_size)
    if head is None or body is None:
        return None
    return json.loads(head), body


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def error(error_type: str, message: str, request_id: str = "",
          stack: list[str] | None = None) -> dict[str, Any]:
    """An error payload as the Python runtime writes it (an init error has no request id)."""
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id,
            "stackTrace": stack or []}


class ClientContext:
    """What a mobile SDK passed in X-Amz-Client-Context."""

    def __init__(self, value: dict[str, Any]) -> None:
        self.client = value.get("client")
        self.custom = value.get("custom")
        self.env = value.get("env")


class LambdaContext:
    """The handler's `context`, with the attributes and method of AWS's Python runtime."""

    def __init__(self, invoke: dict[str, Any]) -> None:
        self.aws_request_id: str = invoke["requestId"]
        self.invoked_function_arn: str = invoke["invokedFunctionArn"]
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        given = invoke.get("clientContext")
        self.client_context = ClientContext(given) if given else None
        self.identity = None
        self._deadline_ms: int = invoke["deadlineMs"]

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class _RequestId(logging.Filter):
    """Puts the current invocation's request id on every log record, as AWS's handler does."""

    current = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _RequestId.current
        return True


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestId())
    handler.terminator = ""
    logging.getLogger().addHandler(handler)


def _watch_parent() -> None:
    """Exit when the local AWS that started this sandbox is gone (killed with -9, say): the
    process is then re-parented, and nobody is left to send it work."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def load_handler(spec: str) -> tuple[Any, dict[str, Any] | None]:
    """The handler `module.function` names, or the init error AWS reports instead."""
    module_name, _, attribute = spec.rpartition(".")
    if not module_name or not attribute:
        return None, error("Runtime.MalformedHandlerName",
                           f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, error("Runtime.ImportModuleError",
                           f"Unable to import module '{module_name}': {exc}")
    except SyntaxError as exc:
        return None, error("Runtime.UserCodeSyntaxError",
                           f"Syntax error in module '{module_name}': {exc}")
    except Exception as exc:
        return None, error(type(exc).__name__, str(exc), "", _user_frames(exc))
    handler = getattr(module, attribute, None)
    if handler is None:
        return None, error("Runtime.HandlerNotFound",
                           f"Handler '{attribute}' missing on module '{module_name}'")
    return handler, None


def _user_frames(exc: BaseException) -> list[str]:
    """The traceback of the function's own code: without this module's frames (the call into
    the handler) and the import machinery's."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if frame.filename != __file__ and not frame.filename.startswith("<frozen ")]
    return traceback.format_list(frames)


def log_error(shaped: dict[str, Any]) -> None:
    """One log event with the error and its trace (the runtime's `[ERROR]` line; `\\r` keeps
    a multi-line trace in one event)."""
    trace = "".join(shaped.get("stackTrace", []))
    text = f"[ERROR] {shaped['errorType']}: {shaped['errorMessage']}"
    if trace:
        text += "\rTraceback (most recent call last):\r" + trace.rstrip("\n").replace("\n", "\r")
    print(text, file=sys.stderr, flush=True)


def invoke(handler: Any, header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes]:
    """Run the handler once: the answer's header and body."""
    request_id = header["requestId"]
    _RequestId.current = request_id
    try:
        result = handler(json.loads(payload), LambdaContext(header))
    except Exception as exc:
        shaped = error(type(exc).__name__, str(exc), request_id, _user_frames(exc))
        log_error(shaped)
        return {"type": "error"}, json.dumps(shaped).encode()
    try:
        body = json.dumps(result).encode()
    except (TypeError, ValueError) as exc:
        shaped = error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id)
        log_error(shaped)
        return {"type": "error"}, json.dumps(shaped).encode()
    if len(body) > MAX_RESPONSE:
        shaped = {"errorMessage": "Response payload size exceeded maximum allowed payload size "
                  f"({MAX_RESPONSE} bytes).", "errorType": "Function.ResponseSizeTooLarge"}
        return {"type": "error"}, json.dumps(shaped).encode()
    return {"type": "result"}, body


def main(socket_path: str) -> None:
    started = time.monotonic()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    _watch_parent()
    _configure_logging()
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path[:] = [task_root, *(p for p in sys.path if p not in ("", task_root))]
    handler, init_error = load_handler(os.environ["_HANDLER"])
    if init_error is not None:
        log_error(init_error)
    sys.stdout.flush()
    sys.stderr.flush()
    send(sock, {"type": "ready", "initMs": (time.monotonic() - started) * 1000,
                "error": init_error})
    if init_error is not None:
        return  # AWS starts a fresh sandbox for the next invocation
    while (frame := receive(sock)) is not None:
        answer, body = invoke(handler, *frame)
        sys.stdout.flush()
        sys.stderr.flush()
        send(sock, answer, body)


if __name__ == "__main__":
    main(sys.argv[1])
