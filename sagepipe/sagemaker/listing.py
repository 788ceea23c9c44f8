"""SageMaker's List* conventions over Describe documents: filters, sorting and NextToken paging."""

from __future__ import annotations

from typing import Any

from sagepipe.errors import ValidationException
from sagepipe.sagemaker.resources import Document

DEFAULT_MAX_RESULTS = 10  # SageMaker's default page size for List* calls
MAX_TOKEN_DIGITS = 18  # a NextToken is an offset into the list: any real one is far shorter
TIME_FILTERS = {
    "CreationTimeAfter": ("CreationTime", 1),
    "CreationTimeBefore": ("CreationTime", -1),
    "LastModifiedTimeAfter": ("LastModifiedTime", 1),
    "LastModifiedTimeBefore": ("LastModifiedTime", -1),
}


def list_page(docs: list[Document], params: dict[str, Any], *, key: str, name: str,
              fields: tuple[str, ...], status: str | None = None) -> dict[str, Any]:
    """One page of summaries (`fields` of each document) under `key`, as List* answers.

    `name` is the document's name field (for NameContains and SortBy=Name); `status` its status
    field (for StatusEquals and SortBy=Status) where the resource has one.
    """
    if needle := params.get("NameContains"):
        docs = [d for d in docs if needle.lower() in d[name].lower()]
    for param, (field, sign) in TIME_FILTERS.items():
        if (bound := params.get(param)) is not None:
            docs = [d for d in docs if field in d and (d[field] - float(bound)) * sign > 0]
    if status and (wanted := params.get("StatusEquals")):
        docs = [d for d in docs if d[status] == wanted]
    sort_field = {"Name": name, "Status": status}.get(params.get("SortBy", "")) or "CreationTime"
    docs = sorted(docs, key=lambda d: d[sort_field],
                  reverse=params.get("SortOrder", "Descending") == "Descending")
    start = _offset(params.get("NextToken"))
    size = params.get("MaxResults", DEFAULT_MAX_RESULTS)
    page = [{f: d[f] for f in fields if f in d} for d in docs[start:start + size]]
    answer: dict[str, Any] = {key: page}
    if start + size < len(docs):
        answer["NextToken"] = str(start + size)
    return answer


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    if not (token.isascii() and token.isdigit() and len(token) <= MAX_TOKEN_DIGITS):
        raise ValidationException(
            f"Invalid NextToken {token[:40]!r}: pass the NextToken of the previous page.")
    return int(token)
