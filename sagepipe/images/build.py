"""Building a directory image from its Dockerfile, once per content.

What a directory image can honour, it does:
- COPY/ADD put the context's files at their destinations in the image's layer (a directory
  that becomes, through the job's mount namespace, what the process sees at /opt/program...);
- RUN parts (`a && b` is two) run at build time in a sandbox whose writes land in the layer
  (useradd, chmod, ln, mkdir: as `docker build` records them), when the machine allows overlays;
- `pip install` parts (a requirements file, packages) install into the image's own virtual
  environment. It sees the local AWS's packages behind its own (a `.pth` line), so pip
  installs only what is missing or pinned differently, from the package index pip is
  configured with; console scripts of the reused packages are written into it too, so that
  `gunicorn` on its PATH runs with its packages;
- ENV, WORKDIR and ENTRYPOINT are the image's configuration.

What it cannot (package managers' installs, a base image's binaries, other stages) it names in
warnings, with the host commands that must exist. A build is kept under a digest of everything
it reads (the Dockerfile, build arguments, copied files, this interpreter and its packages)
and reused by any later registration of the same content.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from sagepipe.images.dockerfile import DEFAULT_PATH, Copy, DockerfileError, Recipe, Run, parse
from sagepipe.namespaces import Isolation, init_argv

BUILD_FORMAT = "4"  # bump when what a build produces changes
PACKAGE_MANAGERS = {"apt-get", "apt", "apk", "yum", "dnf", "microdnf"}
# Installing these into the image's venv is pip keeping itself current: nothing the image runs.
PIP_TOOLING = re.compile(r"^(pip|setuptools|wheel)([<>=!~;\[ ].*)?$", re.IGNORECASE)
PATH_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable"}
LIBRARY_PACKAGE = re.compile(r"^(lib.*|.*-dev|python3?-.*|ca-certificates|build-essential)$")
OUTPUT_LIMIT = 3000


class BuildError(ValueError):
    """The image cannot be built: a Dockerfile error, a copy source missing, a RUN or pip
    install that failed (the message holds its output)."""


def cache_root() -> Path:
    """Where builds are kept. Root's is /var/cache: a server that drops to another user (as the
    project's images do) must still reach its venv, and root's home is private."""
    if os.geteuid() == 0:
        return Path("/var/cache/sagepipe/images")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sagepipe/images"


@lru_cache(maxsize=1)
def _environment() -> str:
    """This interpreter and the packages the image's venv reuses."""
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    return "\n".join([sys.version, sys.prefix, *dists])


def _site_packages() -> list[str]:
    return [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]


def _outline(text: str) -> str:
    return text if len(text) <= OUTPUT_LIMIT else "...\n" + text[-OUTPUT_LIMIT:]


def _sources(context: Path, copy: Copy) -> list[Path]:
    found: list[Path] = []
    for source in copy.sources:
        matches = sorted(glob.glob(str(context / source.lstrip("/")))) or []
        if not matches:
            raise BuildError(f"COPY {source}: no such file in the build context {context}")
        for match in map(Path, matches):
            if not match.resolve().is_relative_to(context):
                raise BuildError(f"COPY {source}: outside the build context {context}")
            found.append(match)
    return found


def _files(paths: list[Path]) -> list[Path]:
    return sorted(f for p in paths for f in ([p] if not p.is_dir() else p.rglob("*"))
                  if f.is_file() and "__pycache__" not in f.parts)


class Build:
    """One build of `recipe` from `context` into `root` (a fresh directory)."""

    def __init__(self, context: Path, recipe: Recipe, root: Path, isolation: Isolation) -> None:
        self.context = context
        self.recipe = recipe
        self.root = root
        self.layer = root / "upper"  # container_init's name for a kept layer
        self.venv: Path | None = None
        self.isolation = isolation
        self.packages: list[tuple[str, list[str]]] = []  # (command line, packages)
        self.not_run: list[str] = []

    def run(self) -> dict[str, Any]:
        self.layer.mkdir(parents=True)
        for step in self.recipe.steps:
            if isinstance(step, Copy):
                self._copy(step)
            elif isinstance(step, Run):
                self._run(step)
            else:
                (self.layer / step.lstrip("/")).mkdir(parents=True, exist_ok=True)
        if self.venv is not None:
            self._console_scripts()
        for scratch in ("work", "root"):  # the RUN sandbox's, not the image's
            shutil.rmtree(self.root / scratch, ignore_errors=True)
        for top in self.layer.iterdir():  # the RUN sandbox made one for each
            with contextlib.suppress(OSError):
                top.rmdir()  # if empty
        return {"layer": str(self.layer),
                "python": str(self.venv / "bin") if self.venv else None,
                "env": self.recipe.env, "workdir": self.recipe.workdir,
                "entrypoint": self.recipe.entrypoint, "warnings": self._warnings()}

    def _copy(self, copy: Copy) -> None:
        destination = self.layer / copy.destination.lstrip("/")
        for source in _sources(self.context, copy):
            if source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True, symlinks=True,
                                ignore=shutil.ignore_patterns("__pycache__"))
            elif copy.add and tarfile.is_tarfile(source):
                destination.mkdir(parents=True, exist_ok=True)
                with tarfile.open(source) as tar:
                    tar.extractall(destination, filter="data")
            else:
                into = copy.destination.endswith("/") or destination.is_dir()
                target = destination / source.name if into else destination
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)

    def _run(self, step: Run) -> None:
        words = list(step.words)
        while words and re.match(r"^\w+=", words[0]):  # `DEBIAN_FRONTEND=x apt-get ...`
            words.pop(0)
        if not words:
            return
        command = PurePosixPath(words[0]).name
        if command in PACKAGE_MANAGERS:
            if {"install", "add"} & set(words):
                at = next(i for i, w in enumerate(words) if w in ("install", "add"))
                self.packages.append((step.text, [w for w in words[at + 1:]
                                                  if not w.startswith("-")]))
            return  # update, clean...: nothing to do without the packages
        if _pip_install(words):
            self._pip(words[words.index("install") + 1:], step)
        elif self.isolation.overlay:
            self._shell(step)
        else:
            self.not_run.append(step.text)

    def _shell(self, step: Run) -> None:
        env = {**os.environ, **step.env, "PATH": ":".join(with_python(step.env["PATH"].split(":"),
                                                                    self._bin()))}
        spec = {"overlay": str(self.root), "network": True, "cwd": step.workdir,
                "argv": ["/bin/sh", "-c", step.text], "keep": [sys.prefix, sys.base_prefix]}
        done = subprocess.run(init_argv(spec), env=env, capture_output=True, text=True,
                              check=False, timeout=600)
        if done.returncode:
            raise BuildError(f"RUN {step.text} failed with exit code {done.returncode}:\n"
                             + _outline(done.stdout + done.stderr))

    def _bin(self) -> str:
        return str(self.venv / "bin") if self.venv else str(Path(sys.executable).parent)

    def _pip(self, arguments: list[str], step: Run) -> None:
        mapped: list[str] = []
        items = iter(arguments)
        for argument in items:
            if argument == "--user":
                continue
            if argument in PATH_OPTIONS:
                mapped += [argument, self._host(next(items, ""), step.workdir)]
            elif argument.split("=")[0] in PATH_OPTIONS:
                option, _, value = argument.partition("=")
                mapped.append(f"{option}={self._host(value, step.workdir)}")
            elif argument == "." or argument.startswith(("/", "./", "../")):
                mapped.append(self._host(argument, step.workdir))
            elif not PIP_TOOLING.match(argument):
                mapped.append(argument)
        if not [m for m in mapped if not m.startswith("-")]:
            return
        venv = self._venv()
        cwd = self.layer / step.workdir.lstrip("/")
        cwd.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install",
             "--disable-pip-version-check", "--no-input", *mapped],
            cwd=cwd, capture_output=True, text=True, check=False, timeout=1800,
            env={**os.environ, "PIP_NO_INPUT": "1"})
        if done.returncode:
            raise BuildError(f"RUN {step.text} failed: pip install exited with "
                             f"{done.returncode}:\n" + _outline(done.stdout + done.stderr))

    def _host(self, path: str, workdir: str) -> str:
        """Where a path of the image is at build time: in the layer if it was copied there."""
        inside = PurePosixPath(workdir, path)
        in_layer = self.layer / str(inside).lstrip("/")
        return str(in_layer) if in_layer.exists() else path

    def _venv(self) -> Path:
        if self.venv is None:
            self.venv = self.root / "venv"
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.venv)],
                           check=True, capture_output=True)
            site = next((self.venv / "lib").glob("python*/site-packages"))
            (site / "_sagepipe_reuse.pth").write_text("\n".join(_site_packages()) + "\n")
        return self.venv

    def _console_scripts(self) -> None:
        """The local AWS's console scripts, pointed at the image's interpreter."""
        assert self.venv is not None
        ours = Path(sys.executable).parent
        shebang = re.compile(rb"#!" + re.escape(str(ours).encode()) + rb"/python[\d.]*\n")
        theirs = f"#!{self.venv / 'bin/python'}\n".encode()
        for script in ours.iterdir():
            target = self.venv / "bin" / script.name
            if target.exists() or not script.is_file():
                continue
            with contextlib.suppress(OSError):
                content = script.read_bytes()
                if found := shebang.match(content):
                    target.write_bytes(theirs + content[found.end():])
                    target.chmod(0o755)

    def _warnings(self) -> list[str]:
        warnings = list(self.recipe.notes)
        base = self.recipe.base
        python = re.search(r"(?:^|/)python:(\d+\.\d+)", base)
        ours = f"{sys.version_info.major}.{sys.version_info.minor}"
        if python is None:
            warnings.append(f"FROM {base}: a directory image has no base image: its commands "
                            "come from this host's PATH")
        elif python[1] != ours:
            warnings.append(f"FROM {base}: runs on this host's Python {ours}, not "
                            f"{python[1]}")
        for line, packages in self.packages:
            commands = [p for p in packages if not LIBRARY_PACKAGE.match(p)]
            missing = [c for c in commands if shutil.which(c) is None
                       and shutil.which(c, path="/usr/sbin:/sbin") is None]
            warning = (f"RUN {line}: packages are not installed in a directory image; the "
                       f"host must provide their commands ({', '.join(commands) or 'none'})")
            if missing:
                warning += f": missing here: {', '.join(missing)} " \
                           f"(apt-get install -y {' '.join(missing)})"
            warnings.append(warning)
        warnings += [f"RUN {text}: not run (this machine allows no overlay mounts to keep its "
                     "changes in the image)" for text in self.not_run]
        return warnings


def _pip_install(words: list[str]) -> bool:
    name = PurePosixPath(words[0]).name
    if re.fullmatch(r"pip[\d.]*", name):
        return words[1:2] == ["install"]
    if re.fullmatch(r"python[\d.]*", name):
        return words[1:4] == ["-m", "pip", "install"]
    return False


def with_python(path: list[str], python_bin: str) -> list[str]:
    """An image's PATH with its interpreter's directory where the base image's Python would
    be: before the first directory of Docker's default PATH."""
    defaults = DEFAULT_PATH.split(":")
    at = next((i for i, entry in enumerate(path) if entry in defaults), len(path))
    return [*path[:at], python_bin, *path[at:]]


def build(context: Path, dockerfile: Path, build_args: dict[str, str],
          isolation: Isolation) -> dict[str, Any]:
    """The image configuration of `dockerfile` built from `context` (built now, or before)."""
    try:
        text = dockerfile.read_text()
        recipe = parse(text, build_args)
    except (OSError, UnicodeDecodeError, DockerfileError) as exc:
        raise BuildError(f"{dockerfile}: {exc}") from None
    digest = hashlib.sha256()
    for part in (BUILD_FORMAT, text, json.dumps(build_args, sort_keys=True), _environment(),
                 repr(isolation)):
        digest.update(part.encode() + b"\0")
    for copy in (s for s in recipe.steps if isinstance(s, Copy)):
        for file in _files(_sources(context, copy)):
            digest.update(f"{file.relative_to(context)}\0{file.stat().st_mode}\0".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    cache = cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / digest.hexdigest()[:32]
    with open(cache / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build of the same content at a time
        if not (root / "image.json").is_file():
            shutil.rmtree(root, ignore_errors=True)  # an interrupted build
            try:
                config = Build(context, recipe, root, isolation).run()
            except BaseException:
                shutil.rmtree(root, ignore_errors=True)
                raise
            (root / "image.json").write_text(json.dumps(config))
    return json.loads((root / "image.json").read_text())
