"""Zip archives as CodePipeline and CodeBuild hand artifacts to each other: a directory in, a
directory out, with file modes and symbolic links kept (a build runs the scripts of the commit
it was given) and nothing written outside the target directory, whatever the archive says."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path


class ArchiveError(ValueError):
    """The archive cannot be unpacked safely; the message names the entry."""


def pack(directory: Path, archive: Path) -> Path:
    """Every file and link under `directory` into the zip `archive`, paths relative to it."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(directory.rglob("*")):
            name = path.relative_to(directory).as_posix()
            if path.is_symlink():
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                out.writestr(info, os.readlink(path))
            elif path.is_file():
                out.write(path, name)
            elif path.is_dir() and not any(path.iterdir()):
                out.write(path, name + "/")
    return archive


def unpack(archive: Path, directory: Path) -> Path:
    """The zip `archive` into `directory`: modes restored, links made last so that no entry is
    written through one; an entry that would land outside `directory` is an ArchiveError."""
    directory.mkdir(parents=True, exist_ok=True)
    root = directory.resolve()
    links = []
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            target = _inside(root, info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                links.append((target, zipped.read(info).decode()))
            elif info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                if mode & 0o777:
                    target.chmod(mode & 0o777)
    for target, link in links:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(link)
    return directory


def _inside(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if target != root and root not in target.parents:
        raise ArchiveError(f"the archive entry {name!r} would be written outside {root}")
    return root / name
