"""A Dockerfile read for what a directory image can honour (build.py says how).

`parse` turns the file into the steps of its final stage, in order: files copied (COPY/ADD),
directories made (WORKDIR), RUN commands split into their `&&`/`;` parts, and the image's
configuration as the stage leaves it (ENV, WORKDIR, ENTRYPOINT). Variables (`ARG`, `ENV`,
`--build-arg`) are substituted as Docker does: `$NAME`, `${NAME}`, `${NAME:-default}`,
`${NAME:+alternative}`. What a directory image cannot do is not dropped silently: it becomes
a note (earlier stages, `ADD` of a URL, `COPY --from`).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

# Docker's PATH for an image whose base sets none: where the base's commands would be.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::([-+])([^}]*))?\}|(\w+))")
_SEPARATORS = {"&&", ";"}


class DockerfileError(ValueError):
    """The Dockerfile cannot be read (the message says where)."""


@dataclass(frozen=True)
class Copy:
    sources: list[str]  # relative to the build context, may hold wildcards
    destination: str  # absolute, in the image
    add: bool  # ADD: a local tar archive is unpacked


@dataclass(frozen=True)
class Run:
    """One part of a RUN line (`a && b; c` has three), its words, and the text the shell runs."""

    words: list[str]
    text: str
    workdir: str
    env: dict[str, str]


@dataclass
class Recipe:
    base: str = ""
    steps: list[Copy | Run | str] = field(default_factory=list)  # str: a directory to make
    env: dict[str, str] = field(default_factory=lambda: {"PATH": DEFAULT_PATH})
    workdir: str = "/"
    entrypoint: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def substitute(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1] or match[4]
        current = variables.get(name, "")
        if match[2] == "-":
            return current or match[3]
        if match[2] == "+":
            return match[3] if current else ""
        return current
    return _VARIABLE.sub(value, text)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, instruction) with continuations joined and comments dropped."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append((start, pending + stripped))
        pending = ""
    if pending:
        lines.append((start, pending))
    return lines


def _exec_form(arguments: str) -> list[str] | None:
    if not arguments.startswith("["):
        return None
    try:
        words = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    return words if isinstance(words, list) and all(isinstance(w, str) for w in words) else None


def _shell_parts(command: str) -> list[str]:
    """A RUN command cut at `&&` and `;` (quotes kept, so each part runs as written)."""
    lexer = shlex.shlex(command, posix=False, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    parts: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token in _SEPARATORS:
                parts.append([])
            else:
                parts[-1].append(token)
    except ValueError:  # unbalanced quotes: leave the line to the shell whole
        return [command]
    return [" ".join(p) for p in parts if p]


def _flags(words: list[str]) -> tuple[dict[str, str], list[str]]:
    flags, rest = {}, list(words)
    while rest and rest[0].startswith("--"):
        name, _, value = rest.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, rest


class _Reader:
    def __init__(self, build_args: dict[str, str]) -> None:
        self.build_args = build_args
        self.recipe = Recipe()
        self.global_args: dict[str, str] = {}  # ARGs before the first FROM: for FROM lines
        self.args: dict[str, str] = {}  # the stage's ARGs
        self.stages = 0

    def variables(self) -> dict[str, str]:
        return {**self.args, **self.recipe.env}

    def path(self, path: str) -> str:
        return str(PurePosixPath(self.recipe.workdir, substitute(path, self.variables())))

    def read(self, number: int, line: str) -> None:
        instruction, _, arguments = line.partition(" ")
        handler = getattr(self, f"do_{instruction.lower()}", None)
        if handler is not None:
            handler(arguments.strip(), number)
        elif instruction.upper() not in {"LABEL", "EXPOSE", "MAINTAINER", "STOPSIGNAL",
                                          "HEALTHCHECK", "SHELL", "VOLUME", "ONBUILD"}:
            raise DockerfileError(f"line {number}: unknown instruction {instruction}")

    def do_from(self, arguments: str, number: int) -> None:
        words = arguments.split()
        base = substitute(words[0] if words else "", self.global_args)
        if self.stages:
            self.recipe.notes.append(f"stage FROM {self.recipe.base} (line {number} starts "
                                     "another): only the final stage is built")
        self.stages += 1
        self.recipe = Recipe(base=base, notes=self.recipe.notes)
        self.args = {}

    def do_arg(self, arguments: str, _number: int) -> None:
        """`ARG NAME[=default]`; in a stage, a bare `ARG NAME` takes the global ARG's value."""
        name, has_default, default = arguments.partition("=")
        if not self.stages:
            self.global_args[name] = self.build_args.get(
                name, substitute(default.strip('"'), self.global_args))
            return
        inherited = self.global_args.get(name, "")
        self.args[name] = self.build_args.get(
            name, substitute(default.strip('"'), self.variables()) if has_default else inherited)

    def do_env(self, arguments: str, number: int) -> None:
        words = shlex.split(arguments)
        if words and "=" not in words[0]:  # the legacy `ENV NAME value with spaces`
            name, _, value = arguments.partition(" ")
            pairs = [(name, value.strip())]
        else:
            pairs = [tuple(w.split("=", 1)) for w in words]  # type: ignore[misc]
            if any(len(p) != 2 for p in pairs):
                raise DockerfileError(f"line {number}: ENV wants NAME=value")
        variables = self.variables()
        for name, value in pairs:
            self.recipe.env[name] = substitute(value, variables)

    def do_workdir(self, arguments: str, _number: int) -> None:
        self.recipe.workdir = self.path(arguments.strip('"'))
        self.recipe.steps.append(self.recipe.workdir)

    def do_copy(self, arguments: str, number: int, add: bool = False) -> None:
        flags, words = _flags(shlex.split(arguments) if not arguments.startswith("[")
                              else [])
        if arguments.startswith("["):
            words = _exec_form(arguments) or []
        if len(words) < 2:
            raise DockerfileError(f"line {number}: {'ADD' if add else 'COPY'} wants sources "
                                  "and a destination")
        if "from" in flags:
            self.recipe.notes.append(f"line {number}: COPY --from={flags['from']} is not "
                                     "honoured (only the final stage is built)")
            return
        variables = self.variables()
        sources = [substitute(s, variables) for s in words[:-1]]
        urls = [s for s in sources if re.match(r"^[a-z]+://", s)]
        if urls:
            self.recipe.notes.append(f"line {number}: ADD {' '.join(urls)} is not fetched "
                                     "(no network)")
            sources = [s for s in sources if s not in urls]
        destination = self.path(words[-1])
        if words[-1].endswith(("/", "/.")) or words[-1] == "." or len(sources) > 1:
            destination += "/"
        if sources:
            self.recipe.steps.append(Copy(sources, destination, add))

    def do_add(self, arguments: str, number: int) -> None:
        self.do_copy(arguments, number, add=True)

    def do_run(self, arguments: str, _number: int) -> None:
        while arguments.startswith("--"):  # RUN --mount=... and the like
            arguments = arguments.split(" ", 1)[1].lstrip() if " " in arguments else ""
        exec_words = _exec_form(arguments)
        parts = [shlex.join(exec_words)] if exec_words is not None else _shell_parts(arguments)
        variables = self.variables()
        for text in parts:
            try:
                words = shlex.split(substitute(text, variables))
            except ValueError:
                words = text.split()
            self.recipe.steps.append(Run(words, text, self.recipe.workdir,
                                         dict(self.recipe.env)))

    def do_entrypoint(self, arguments: str, _number: int) -> None:
        words = _exec_form(arguments)
        self.recipe.entrypoint = words if words is not None else ["/bin/sh", "-c", arguments]

    def do_cmd(self, _arguments: str, _number: int) -> None:
        """SageMaker always gives the command (`train`, `serve`): the image's CMD is unused."""

    def do_user(self, arguments: str, number: int) -> None:
        self.recipe.notes.append(f"line {number}: USER {arguments} is not honoured: the "
                                 "process runs as the local AWS's user")


def parse(text: str, build_args: dict[str, str] | None = None) -> Recipe:
    reader = _Reader(build_args or {})
    for number, line in _logical_lines(text):
        reader.read(number, line)
    if not reader.stages:
        raise DockerfileError("no FROM instruction: this is not a Dockerfile")
    return reader.recipe
