"""What the fuzz tests share: their settings, the verdict on an answer, and strategies for
what clients send (text, header values, query strings, XML and JSON bodies).

Every property runs derandomized (the same examples on every run, so a failure reproduces)
with a bounded number of examples, so the folder runs in seconds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

FUZZ = settings(derandomize=True, deadline=None, database=None, max_examples=100,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

# Values that found bugs before, or sit on a boundary: empty, blank, huge numbers, signs,
# non-ASCII digits, encodings, separators.
EDGES = ["", " ", "0", "-1", "1e308", "9" * 25, "9" * 5000, "²", "٣", "null", "*", "..", "/",
         "%", "%00", "%0d%0a", "true", "NaN", "bytes=0-", "bytes=-0", "bytes=5-1",
         "\u202e", "ünï", "a" * 2000]

text = st.one_of(st.sampled_from(EDGES), st.text(max_size=40))
# What an HTTP client sends in a header: visible ASCII, no control characters, no whitespace
# around it (HTTP drops that; test_known_bad_input sends it on a raw socket).
header_text = st.one_of(st.sampled_from([e for e in EDGES if e.isascii() and "%" not in e]),
                        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                                max_size=60)).map(str.strip)
numbers = st.one_of(st.integers(), st.floats(allow_nan=True), st.sampled_from(EDGES))


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value, nested a few levels."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        text)
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
        max_leaves=max_leaves)


def xml_documents(roots: list[str], children: list[str]) -> st.SearchStrategy[bytes]:
    """XML documents named like S3's (so they get past the root check), with children of any
    name S3 reads nested in any order, holding any text; and bytes that are not XML at all."""
    element = st.recursive(
        st.tuples(st.sampled_from(children), text).map(
            lambda pair: f"<{pair[0]}>{_escape(pair[1])}</{pair[0]}>"),
        lambda inner: st.tuples(st.sampled_from(children), st.lists(inner, max_size=4)).map(
            lambda pair: f"<{pair[0]}>{''.join(pair[1])}</{pair[0]}>"),
        max_leaves=10)
    documents = st.tuples(st.sampled_from(roots), st.lists(element, max_size=5)).map(
        lambda pair: (f'<{pair[0]} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                      f"{''.join(pair[1])}</{pair[0]}>").encode())
    return st.one_of(documents, st.binary(max_size=200),
                     st.sampled_from([b"<", b"<a>", b"<!DOCTYPE x [<!ENTITY y 'z'>]><x>&y;</x>",
                                      b"<?xml version='1.0'?>"]))


def _escape(value: str) -> str:
    cleaned = "".join(c for c in value if c in "\t\n\r" or (" " <= c < "\ufffe"
                                                              and not "\ud800" <= c <= "\udfff"))
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send(http: httpx.Client, method: str, url: str, **options: Any) -> httpx.Response:
    """One request; a dropped connection fails the test (every request gets an answer)."""
    try:
        return http.request(method, url, **options)
    except httpx.TransportError as exc:
        pytest.fail(f"{method} {url}: no answer ({type(exc).__name__}: {exc})")


def assert_client_error(response: httpx.Response, what: str) -> None:
    """Bad input gets a 4xx, never a 5xx; NotImplemented (501) only names what is not
    emulated."""
    status = response.status_code
    event(f"status {status}")
    if status >= 500:
        assert status == 501 and b"NotImplemented" in response.content, (
            f"{what}: {status} {response.content[:400]!r}")
