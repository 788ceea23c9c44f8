"""The model image makes its SageMaker entry points executable itself: whether the source
archive kept the files' modes (a CodeConnections CODE_ZIP may not) must not matter."""

from __future__ import annotations

import re
import shlex

import pytest

from .templates_kit import REPO

pytestmark = pytest.mark.aws_unit  # needs no local AWS: the UnitTests action runs it

DOCKERFILE = REPO / "model" / "Dockerfile"
ENTRY_POINTS = ("prepare", "train", "serve")
WORKDIR = "/opt/program"


def instructions(text: str) -> list[tuple[str, list[str]]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), shlex.split(rest)))
    return found


def _executable_mode(mode: str) -> bool:
    return "+x" in mode or (mode.isdigit() and all(int(d) & 1 for d in mode[-3:]))


def not_made_executable(text: str) -> list[str]:
    """The entry points the image copies in without making them executable afterwards."""
    executable: dict[str, bool] = {}
    for instruction, args in instructions(text):
        if instruction == "COPY":
            options = [a for a in args if a.startswith("--")]
            sources, destination = [a for a in args if not a.startswith("--")][:-1], args[-1]
            chmod = next((o.split("=", 1)[1] for o in options if o.startswith("--chmod=")), "")
            for source in sources:
                if source in ENTRY_POINTS:
                    executable[f"{destination.rstrip('/')}/{source}"] = _executable_mode(chmod)
        elif instruction == "RUN":
            for command in " ".join(args).split("&&"):
                words = command.split()
                if words[:1] == ["chmod"] and len(words) > 2 and _executable_mode(words[1]):
                    for path in words[2:]:
                        if path in executable:
                            executable[path] = True
    copied = {path.rsplit("/", 1)[1] for path in executable}
    return sorted({name for name in ENTRY_POINTS if name not in copied} |
                  {path.rsplit("/", 1)[1] for path, ok in executable.items() if not ok})


def test_the_image_makes_every_entry_point_executable():
    assert not_made_executable(DOCKERFILE.read_text()) == []
    for name in ENTRY_POINTS:
        assert (REPO / "model" / name).is_file(), name


def test_an_image_relying_on_the_archives_modes_is_caught():
    text = DOCKERFILE.read_text()
    planted = "\n".join(line for line in text.splitlines() if not line.startswith("RUN chmod"))
    assert planted != text
    assert not_made_executable(planted) == ["prepare", "serve", "train"]
    only_two = text.replace(f"{WORKDIR}/train {WORKDIR}/serve", f"{WORKDIR}/train")
    assert not_made_executable(only_two) == ["serve"]


def test_copy_with_an_executable_chmod_is_enough():
    text = "FROM x\nCOPY --chmod=755 prepare train serve /opt/program/\n"
    assert not_made_executable(text) == []
    assert not_made_executable(text.replace("755", "644")) == ["prepare", "serve", "train"]
