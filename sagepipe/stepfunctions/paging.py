"""Step Functions' pagination: `maxResults` (0 or absent: the default page of 100; at most
1000, which the model enforces) and an opaque `nextToken` that only a previous page gives."""

from __future__ import annotations

from typing import Any

from sagepipe.stepfunctions.exceptions import InvalidToken

DEFAULT_PAGE = 100


def offset(token: str | None) -> int:
    """Where the page of `token` starts; InvalidToken if no page gave it."""
    if token is None:
        return 0
    if not token.isdigit():
        raise InvalidToken(f"Invalid Token: '{token}'")
    return int(token)


def page_size(params: dict[str, Any]) -> int:
    return params.get("maxResults") or DEFAULT_PAGE


def page(items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
    """One page of `items` under `key`, with the token of the next if there is one."""
    start, size = offset(params.get("nextToken")), page_size(params)
    answer: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        answer["nextToken"] = str(start + size)
    return answer
