"""One page of a bucket listing: keys under a prefix, rolled up at a delimiter, after a marker.

Keys come in UTF-8 binary order (SQLite's BINARY collation, which is S3's order). With a
delimiter, every key that has the delimiter after the prefix is rolled up into one common prefix,
which counts once against max-keys. A page that ends on a common prefix resumes past all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

# Sorts after every character a key can hold: `cp + BEYOND` is past every key starting with cp.
BEYOND = "\U0010ffff"

Row = TypeVar("Row")
Scan = Callable[[str, bool], Iterator[Row]]  # (start, inclusive) -> rows in key order


@dataclass
class Page(Generic[Row]):
    objects: list[Row] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or common prefix on the page: where the next starts


def common_prefix(key: str, prefix: str, delimiter: str | None) -> str | None:
    if not delimiter:
        return None
    found = key.find(delimiter, len(prefix))
    return key[:found + len(delimiter)] if found >= 0 else None


def list_page(scan: Scan[Row], key_of: Callable[[Row], str], *, prefix: str = "",
              delimiter: str | None = None, after: str = "", max_keys: int = 1000) -> Page[Row]:
    """The entries after `after` (a key, or a common prefix this listing returned)."""
    page: Page[Row] = Page()
    if after and common_prefix(after, prefix, delimiter) == after:
        after += BEYOND
    rows = scan(prefix, True) if prefix > after else scan(after, False)
    while (row := next(rows, None)) is not None:
        key = key_of(row)
        if not key.startswith(prefix):
            break  # keys are ordered: every later key is past the prefix too
        rolled = common_prefix(key, prefix, delimiter)
        if rolled is not None and page.last == rolled:
            continue  # a key holding BEYOND itself, past the jump
        if len(page.objects) + len(page.prefixes) >= max_keys:
            page.truncated = max_keys > 0
            break
        if rolled is None:
            page.objects.append(row)
            page.last = key
        else:
            page.prefixes.append(rolled)
            page.last = rolled
            rows = scan(rolled + BEYOND, False)
    return page
