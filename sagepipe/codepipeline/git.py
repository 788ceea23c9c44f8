"""The Git host of the local AWS: for each FullRepositoryId a pipeline's source names, a bare
repository under the home (`<home>/git/<owner>/<name>.git`), the local stand-in for the GitHub
repository the connection reaches. Its post-receive hook (hook.py) tells the local AWS what was
pushed, which starts the pipelines whose trigger matches, as GitHub's webhook does in AWS.

Also here: what a source action reads of a repository (the commit a branch points to, the
commit's details, a zip of its tree) and the V2 trigger filters (branches, tags, file paths,
glob patterns) matched against a push.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagepipe.config import Settings

REPOSITORY_ID = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
ZERO = "0" * 40
HOOK = '''#!{python}
"""post-receive hook of the local Git remote of {repository}: tells the local AWS of
{home} what was pushed (sagepipe/codepipeline/hook.py)."""
import sys

from sagepipe.codepipeline.hook import main

sys.exit(main({home!r}, {repository!r}))
'''


class GitError(RuntimeError):
    """A git command failed; the message is git's."""


@dataclass(frozen=True)
class Commit:
    id: str
    message: str
    author: str
    date: str  # ISO 8601

    @property
    def summary(self) -> str:
        return self.message.splitlines()[0] if self.message else ""


@dataclass(frozen=True)
class Push:
    """One ref a push updated."""

    ref: str
    old: str
    new: str

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") \
            else None

    @property
    def tag(self) -> str | None:
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else None


class Repositories:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def path(self, repository: str) -> Path:
        if not REPOSITORY_ID.match(repository) or ".." in repository.split("/"):
            raise GitError(f"{repository!r} is not a repository id (owner/name)")
        return self.settings.home / "git" / f"{repository}.git"

    def ensure(self, repository: str) -> Path:
        """The bare repository of `repository` with its hook (re-written each time, so that it
        names the Python of this local AWS)."""
        path = self.path(repository)
        if not (path / "HEAD").exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _git(path.parent, "init", "--quiet", "--bare", str(path))
        hook = path / "hooks" / "post-receive"
        hook.write_text(HOOK.format(python=sys.executable, repository=repository,
                                    home=str(self.settings.home)))
        hook.chmod(0o700)
        return path

    def all(self) -> list[dict[str, str]]:
        root = self.settings.home / "git"
        return [{"FullRepositoryId": path.relative_to(root).as_posix().removesuffix(".git"),
                 "url": str(path)} for path in sorted(root.glob("**/*.git"))
                if (path / "HEAD").exists()]

    def branch_head(self, repository: str, branch: str) -> str | None:
        path = self.path(repository)
        done = subprocess.run(["git", "-C", str(path), "rev-parse", "--verify", "--quiet",
                               f"refs/heads/{branch}^{{commit}}"], capture_output=True, text=True)
        return done.stdout.strip() or None

    def commit(self, repository: str, revision: str) -> Commit:
        out = _git(self.path(repository), "show", "-s", "--format=%H%x00%an%x00%aI%x00%B",
                   f"{revision}^{{commit}}")
        sha, author, date, message = out.split("\0", 3)
        return Commit(sha, message.strip(), author, date)

    def archive(self, repository: str, commit: str, zip_path: Path) -> Path:
        """The commit's tree as a zip (modes and links kept), as CODE_ZIP is."""
        _git(self.path(repository), "archive", "--format=zip", "-o", str(zip_path), commit)
        return zip_path

    def changed_files(self, repository: str, push: Push) -> list[str]:
        path = self.path(repository)
        if push.old == ZERO:
            return _git(path, "ls-tree", "-r", "--name-only", push.new).splitlines()
        return _git(path, "diff", "--name-only", push.old, push.new).splitlines()


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _included(value: str, spec: dict[str, Any] | None) -> bool:
    """A trigger filter's includes and excludes (glob patterns) applied to `value`."""
    if not spec:
        return True
    includes, excludes = spec.get("includes") or ["**"], spec.get("excludes") or []
    return any(fnmatch.fnmatchcase(value, p) for p in includes) and \
        not any(fnmatch.fnmatchcase(value, p) for p in excludes)


def push_matches(push_filter: dict[str, Any], push: Push, changed: list[str]) -> bool:
    """Whether one of a V2 trigger's push filters starts the pipeline for `push`: tags filter
    tag pushes, branches filter branch pushes, file paths need one changed file they include."""
    if push_filter.get("tags"):
        return push.tag is not None and _included(push.tag, push_filter["tags"])
    if push.branch is None or not _included(push.branch, push_filter.get("branches")):
        return False
    paths = push_filter.get("filePaths")
    return not paths or any(_included(path, paths) for path in changed)
