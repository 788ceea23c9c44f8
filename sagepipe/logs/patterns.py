"""CloudWatch Logs filter patterns for unstructured events, as FilterLogEvents reads them.

    ERROR                  events containing ERROR (terms are case-sensitive)
    ERROR Exception        events containing both
    "Bad request" 500      a quoted phrase, matched as written, and a term
    ?ERROR ?WARN           events containing either
    ERROR -timeout         events containing ERROR but not timeout
    %status=[45]\\d\\d%     a regular expression (between percent signs)

JSON patterns (`{ $.level = "error" }`) and space-delimited ones (`[ip, user, ...]`) are not
emulated: they are refused with a message saying so, never silently matched as text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from sagepipe.logs.exceptions import InvalidParameterException

Matcher = Callable[[str], bool]


def compile_pattern(pattern: str | None) -> Matcher:
    """A predicate on an event's message; InvalidParameterException for a pattern it cannot
    read or does not emulate."""
    text = (pattern or "").strip()
    if not text:
        return lambda _message: True
    if text[0] in "{[":
        raise InvalidParameterException(
            f"The filter pattern {pattern!r} is a JSON or space-delimited pattern, which the "
            "local CloudWatch Logs does not emulate; use terms, \"quoted phrases\", ?either "
            "terms, -excluded terms or a %regular expression%.")
    if len(text) > 1 and text[0] == text[-1] == "%":
        try:
            regex = re.compile(text[1:-1])
        except re.error as exc:
            raise InvalidParameterException(f"Invalid filter pattern {pattern!r}: {exc}.") from None
        return lambda message: regex.search(message) is not None
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        raise InvalidParameterException(f"Invalid filter pattern {pattern!r}: a quote is not "
                                        "closed.") from None
    required = [w for w in words if w[0] not in "?-"]
    either = [w[1:] for w in words if w.startswith("?") and len(w) > 1]
    excluded = [w[1:] for w in words if w.startswith("-") and len(w) > 1]

    def matches(message: str) -> bool:
        return (all(w in message for w in required)
                and (not either or any(w in message for w in either))
                and not any(w in message for w in excluded))
    return matches
