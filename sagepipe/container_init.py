"""The first process of a sandboxed job, model server or image build: it makes the process's
namespaces, then runs the image's command in them, as a container runtime would.

`Sandbox.launch` (and the image build) run `python -m sagepipe.container_init SPEC`,
SPEC a JSON object:

- `ml`: a host directory bound on `/opt/ml` (the job's sandbox), or null;
- `layer`: the image's files at their container paths (what its Dockerfile copies), or null;
- `overlay`: "tmpfs" to give each top-level directory of `/` a writable layer in memory, and
  /tmp a tmpfs of its own (writes outside /opt/ml stay in the sandbox and vanish with it), a
  host directory to keep what is written there instead (an image build records its RUN
  lines' changes so), or null (the host's filesystem as it is, but /opt/ml);
- `network`: true for a network namespace of its own (only `lo`, where a model server binds
  8080 as in SageMaker), false to share the host's (jobs reach the local AWS on 127.0.0.1);
- `broker_fd`: with `network`, the inherited socket on which the local AWS asks for
  connections to the server: each request is answered with a TCP connection to
  `port` made inside the namespace, passed back as a file descriptor (SCM_RIGHTS), so that
  the HTTP traffic itself flows over a plain socket, without a relay copying it;
- `port`, `cwd`, `argv`: the server's port, the working directory and the command;
- `keep`: host directories the container must see where they are (the local AWS's Python,
  which the image's venv reuses): bound read-only into its /tmp if they lie under the host's
  /tmp, which the container's own /tmp hides.

Stdlib only and small: it starts before every job and model server. Run as root it uses the
mount and network namespaces directly; otherwise it first enters a user namespace where it is
root (when the kernel allows unprivileged user namespaces). With `probe` true it sets up
everything and exits 0 without running a command: how the local AWS finds out what the machine
allows.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
from fcntl import ioctl
from typing import Any, NoReturn

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
CONTAINER_ML = "/opt/ml"
KERNEL = {"proc", "sys", "dev"}  # the host's, bound as they are
SETUP_FAILED = 125  # as `docker run` exits when the container cannot be set up
NOT_FOUND = 127  # as a shell exits for a command it cannot find

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    pass


def _call(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
           data: str | None = None) -> None:
    _call(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                      ctypes.c_ulong(flags), data and data.encode()),
          f"mount {fstype or source} on {target}")


def _enter_namespaces(network: bool) -> bool:
    """Unshare mount (and network) namespaces; True if that took a user namespace."""
    flags = CLONE_NEWNS | (CLONE_NEWNET if network else 0)
    if os.geteuid() == 0:
        _call(_libc.unshare(flags), "unshare")
        return False
    uid, gid = os.geteuid(), os.getegid()
    _call(_libc.unshare(flags | CLONE_NEWUSER), "unshare (user namespace)")
    for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"0 {uid} 1"),
                       ("/proc/self/gid_map", f"0 {gid} 1")):
        with open(path, "w") as stream:
            stream.write(text)
    return True


def _loopback_up() -> None:
    """Bring up `lo` in a new network namespace (it starts down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", ioctl(sock, SIOCGIFFLAGS, request))[1]
        ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)),
                                 line.split()[4]))  # \040 is a space
    return points


def _pinned(path: str) -> str:
    """A path to `path` as it is now, whatever is later mounted over it: an O_PATH descriptor
    (left open, the process keeps it) named through /proc/PID/fd (for its children too)."""
    return f"/proc/{os.getpid()}/fd/{os.open(path, os.O_PATH)}"


def _layer_root(spec: dict[str, Any], unprivileged: bool) -> str:
    """A new root for the container, returned as a path to chroot into: every top-level
    directory of the host's `/` and of the image's layer gets an overlay there (the image's
    files over the host's, writes into a layer of the sandbox); /proc, /sys and /dev are the
    host's, /tmp is left for a tmpfs of its own. Mounts below a directory (an /etc/hosts bind, a
    volume) are bound again on top, as a container keeps its volumes. The overlays' roots are
    755: a server that drops to another user still reaches its interpreter, wherever the host
    keeps it. (The host's own later changes to these directories may not show through an
    overlay: it is a snapshot, as an image is.)"""
    layer = spec.get("layer")
    layer_dir = _pinned(layer) if layer else None
    # Layers must not overlap: the image's files for the directory its layer lies in (/var,
    # for a layer in /var/cache) are a copy, made in the scratch space.
    layer_home = os.path.realpath(layer).split("/")[1] if layer else None
    if spec["overlay"] == "tmpfs":
        # Scratch space for the layers and the new root, in this namespace only.
        _mount("tmpfs", "/tmp", "tmpfs", 0, "mode=755")  # noqa: S108
        writable = _pinned("/tmp")  # noqa: S108
    else:
        writable = _pinned(spec["overlay"])
    root = f"{writable}/root"
    os.makedirs(root, exist_ok=True)
    _mount("tmpfs", root, "tmpfs", 0, "mode=755")  # mount points only, fresh each time
    points = _mount_points()
    names = set(os.listdir("/")) | (set(os.listdir(layer_dir)) if layer_dir else set())
    for name in sorted(names):
        top, target = f"/{name}", f"{root}/{name}"
        in_layer = bool(layer_dir) and os.path.isdir(f"{layer_dir}/{name}")
        if os.path.islink(top) and not in_layer:
            os.symlink(os.readlink(top), target)
            continue
        on_host = os.path.isdir(top) and not os.path.islink(top)
        if not (on_host or in_layer):
            continue  # a file at the top of the host's `/`
        os.makedirs(target, exist_ok=True)
        if name in KERNEL:
            _mount(top, target, None, MS_BIND | MS_REC)
            continue
        if name == "tmp":
            continue
        lower = [top] if on_host else []
        if in_layer:
            lower.insert(0, f"{layer_dir}/{name}")
            if name == layer_home:
                lower[0] = f"{writable}/copy/{name}"
                os.makedirs(os.path.dirname(lower[0]), exist_ok=True)
                subprocess.run(["cp", "-a", f"{layer_dir}/{name}", lower[0]], check=True)
        upper, work = f"{writable}/upper/{name}", f"{writable}/work/{name}"
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        os.chmod(upper, 0o755)  # noqa: S103 - see the docstring
        options = f"lowerdir={':'.join(lower)},upperdir={upper},workdir={work}"
        try:
            _mount("overlay", target, "overlay", 0,
                   options + (",userxattr" if unprivileged else ""))
        except SetupError:
            if in_layer:
                raise
            # One the kernel will not overlay (seen in user namespaces): the host's, as it is.
            _mount(top, target, None, MS_BIND | MS_REC)
            continue
        for point in (p for p in points if p.startswith(f"{top}/") and on_host):
            with contextlib.suppress(SetupError, OSError):  # one that is gone or hidden
                _mount(point, f"{root}{point}", None, MS_BIND | MS_REC)
    return root


def setup(spec: dict[str, Any]) -> None:
    unprivileged = _enter_namespaces(bool(spec.get("network")))
    ml = _pinned(spec["ml"]) if spec.get("ml") else None  # mounts of this namespace only
    keep = [(path, _pinned(path)) for path in spec.get("keep", [])
            if path.startswith("/tmp/") and os.path.isdir(path)]  # noqa: S108
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    if spec.get("network"):
        _loopback_up()
    root = _layer_root(spec, unprivileged) if spec.get("overlay") else ""
    if ml:
        os.makedirs(f"{root}{CONTAINER_ML}", exist_ok=True)  # in /opt's layer when there is one
        _mount(ml, f"{root}{CONTAINER_ML}", None, MS_BIND | MS_REC)
    if root:
        _mount("tmpfs", f"{root}/tmp", "tmpfs", 0, "mode=1777")  # noqa: S108 - its own
        for path, pinned in keep:
            os.makedirs(f"{root}{path}", exist_ok=True)
            _mount(pinned, f"{root}{path}", None, MS_BIND | MS_REC)
            _mount(None, f"{root}{path}", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        os.chroot(root)
    os.chdir(spec.get("cwd") or "/")


def _run(argv: list[str]) -> NoReturn:
    try:
        os.execvpe(argv[0], argv, os.environ)  # noqa: S606 - the image's command, as given
    except OSError as exc:
        print(f"sagepipe: cannot run {argv[0]!r}: {exc.strerror}", file=sys.stderr, flush=True)
        os._exit(NOT_FOUND if isinstance(exc, FileNotFoundError) else 126)


def _connect(port: int) -> socket.socket:
    """A connection to the server inside the namespace, over IPv4 or else IPv6 loopback."""
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError as first:
        try:
            return socket.create_connection(("::1", port), timeout=2)
        except OSError:
            raise first from None


def _exit_like(status: int) -> NoReturn:
    """End this process the way the server ended (its exit code, or its signal). Main thread
    only: it resets a signal's handler."""
    if os.WIFSIGNALED(status):
        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _broker(broker: socket.socket, port: int) -> None:
    """Answer each request of the local AWS with a connection to the server (or why not)."""
    while True:
        try:
            request = broker.recv(16)
        except OSError:
            return
        if not request:  # the local AWS went away
            return
        try:
            conn = _connect(port)
        except OSError as exc:
            broker.send((exc.strerror or str(exc)).encode())
            continue
        with conn:
            socket.send_fds(broker, [b"+"], [conn.fileno()])


def serve_brokered(argv: list[str], broker: socket.socket, port: int) -> NoReturn:
    """Run the server as a child and answer the local AWS's connection requests until it
    ends; then end as it did. SIGTERM to the process group reaches the server itself: this
    process outlives it, so that whoever waits for it waits for the server."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)  # a handler, not SIG_IGN: exec resets it
    child = os.fork()
    if child == 0:
        broker.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        _run(argv)
    threading.Thread(target=_broker, args=(broker, port), daemon=True).start()
    _exit_like(os.waitpid(child, 0)[1])


def main() -> NoReturn:
    spec = json.loads(sys.argv[1])
    try:
        setup(spec)
    except (SetupError, OSError) as exc:
        print(f"sagepipe: could not set up the container's namespaces: {exc}", file=sys.stderr,
              flush=True)
        os._exit(SETUP_FAILED)
    if spec.get("probe"):
        os._exit(0)
    if spec.get("broker_fd") is not None:
        serve_brokered(spec["argv"], socket.socket(fileno=spec["broker_fd"]), spec["port"])
    _run(spec["argv"])


if __name__ == "__main__":
    main()
