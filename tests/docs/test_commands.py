"""The shell commands the README and Docs give: each variable they use is set before (or is
one the reader's shell or `eval "$(sagepipe env)"` sets), and a bucket made outside us-east-1
names its region as the location constraint (S3 refuses it otherwise). These are the mistakes a
reader copying the commands hits first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from testkit import REPO

# The repository's own documents: not a README a tool writes into a hidden folder (.pytest_cache)
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "Docs").glob("*.md")),
             *sorted(p for p in REPO.glob("*/README.md") if not p.parent.name.startswith("."))]
BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)
ASSIGNED = re.compile(r"(?:^|[\s;(&|])(?:export\s+|local\s+)?([A-Za-z_]\w*)=|"
                      r"\bfor\s+([A-Za-z_]\w*)\s+in\b|\bread\s+(?:-\w+\s+)*([A-Za-z_]\w*)")
USED = re.compile(r"\$\{?([A-Za-z_]\w*)")
# Set by the reader's shell, by `eval "$(sagepipe env)"` or by AWS's own configuration.
PROVIDED = {"PATH", "PWD", "HOME", "USER", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
            "AWS_PROFILE", "SAGEPIPE_HOME"}


def commands(document: Path) -> list[str]:
    """The document's shell blocks, in order, continuation lines joined, comments dropped."""
    text = "\n".join(BLOCK.findall(document.read_text()))
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.split(" #", 1)[0] for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_variable_is_set_before_it_is_used(document: Path):
    assigned, unset = set(PROVIDED), []
    for line in commands(document):
        body = re.sub(r"'[^']*'", "''", line)  # single quotes: no expansion
        for name in USED.findall(body):
            if name not in assigned and name not in {m for g in ASSIGNED.findall(body)
                                                     for m in g if m}:
                unset.append(f"${name} in: {line.strip()}")
        assigned.update(m for g in ASSIGNED.findall(body) for m in g if m)
    assert not unset, f"{document.name}: used before it is set:\n" + "\n".join(unset)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_a_bucket_outside_us_east_1_names_its_region(document: Path):
    refused = [line.strip() for line in commands(document)
               if "s3api create-bucket" in line
               and (region := re.search(r"--region\s+(\S+)", line))
               and region[1] != "us-east-1" and "--create-bucket-configuration" not in line]
    assert not refused, f"{document.name}: S3 refuses these outside us-east-1:\n" + \
        "\n".join(refused)
