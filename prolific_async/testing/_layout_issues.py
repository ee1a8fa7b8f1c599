"""The 422 a layout failing validation answers: flat issues, as the official CLI reads them.

:func:`~._layout.check_layout` reports each problem at its full path (``loc``). The batch
endpoints answer them flat, ``{"type": "INVALID_BATCH_ITEMS", "issues": [...]}`` with
one ``{page, row, column, item, type, field?, message}`` object per problem: the body the
official CLI parses (``formatBatchErrorBody`` in ``client/client.go``, prolific-oss/cli @
4596a2fba604) and its client tests show. The April 2026 spec documents no 422 for
create or update; this is the shape the real service answers the CLI with.

* Every issue has all four 0-based indices, as every real body has (the CLI reads
  them as Go ``int``s, so an absent one would read as 0 anyway). They go down to the
  entry at fault; the levels below it are 0: a row's problem is at its page and row,
  ``column`` and ``item`` 0; a problem of the whole list is at 0, 0, 0, 0. ``type``
  says which level is at fault.
* ``type`` is the item's ``type`` as given, for an item's problem; otherwise the level
  at fault (``page``, ``row``, ``column``, ``item``, or ``batch_items`` for the list).
* ``field`` is there for a ``dataset_field`` item: the schema field it names.
* A problem deeper than the entry's own keys (an option's label) starts its message with
  the path from the entry: ``options[0].label: label is required``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from ._layout import LAYOUT_ERROR_TYPE, LEVELS

__all__ = ["describe_issues", "flat_issues", "layout_error_body"]

#: The key a flat issue's ``type`` takes for a problem of the ``batch_items`` list itself.
WHOLE_LAYOUT: Final = "batch_items"


def _is_index(part: Any) -> bool:
    return isinstance(part, int) and not isinstance(part, bool)


def _dotted(path: Iterable[Any]) -> str:
    """``["options", 0, "label"]`` -> ``options[0].label``."""
    text = "".join(f"[{part}]" if _is_index(part) else f".{part}" for part in path)
    return text.lstrip(".")


def describe_issues(issues: Iterable[Mapping[str, Any]]) -> str:
    """Issues as ``batch_items[0].rows[1]: message; ...``, for a ValueError."""
    return "; ".join(f"{_dotted(issue['loc'])}: {issue['msg']}" for issue in issues)


def flat_issue(pages: list[Any], issue: Mapping[str, Any]) -> dict[str, Any]:
    """One ``check_layout`` issue (``loc``, ``msg``) as a flat issue of the 422 body."""
    path = list(issue["loc"][1:])  # without the leading "batch_items"
    flat: dict[str, Any] = {level: 0 for level, _ in LEVELS}
    kind, entry = WHOLE_LAYOUT, None
    children: Any = pages
    for level, key in LEVELS:
        if not path or not _is_index(path[0]):
            break
        index = path.pop(0)
        flat[level], kind = index, level
        entry = children[index] if isinstance(children, list) and index < len(children) else None
        if key is None or len(path) < 2 or path[0] != key or not _is_index(path[1]):
            break
        path.pop(0)
        children = entry.get(key) if isinstance(entry, dict) else None
    if kind == "item" and isinstance(entry, dict) and isinstance(entry.get("type"), str):
        kind = entry["type"]
    flat["type"] = kind
    if kind == "dataset_field" and isinstance(entry, dict) and isinstance(entry.get("field"), str):
        flat["field"] = entry["field"]
    message = str(issue["msg"])
    flat["message"] = f"{_dotted(path)}: {message}" if len(path) > 1 else message
    return flat


def flat_issues(pages: list[Any], issues: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every ``check_layout`` issue of ``pages`` as a flat issue, in the same order."""
    return [flat_issue(pages, issue) for issue in issues]


def layout_error_body(pages: list[Any], issues: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The 422 body: ``{"type": "INVALID_BATCH_ITEMS", "issues": [...]}``."""
    return {"type": LAYOUT_ERROR_TYPE, "issues": flat_issues(pages, issues)}
