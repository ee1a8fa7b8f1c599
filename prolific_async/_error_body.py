"""A non-2xx answer's body: decoded leniently, summarised in one line, its layout issues.

What an :class:`~prolific_async.APIStatusError` says of the body comes from here (see
:func:`describe_error_body`); :mod:`._status_errors` builds the error around it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ._redact import KNOWN, Redactor, mask_known

if TYPE_CHECKING:
    from .models.layout_issues import LayoutIssue

__all__ = ["decode_error_body", "describe_error_body", "layout_issues"]

_MAX_DETAIL_CHARS = 500
#: How deep an error body is read when it is summarised; deeper values show as "…" (JSON
#: allows any depth, and a walk per level would hit Python's recursion limit).
_MAX_DETAIL_DEPTH = 20


#: The longest error body (in characters) masked string by string: about 2 ms a token
#: masked (a live client's, or one of the last 16 closed) for one of short strings; an
#: error body may have 8 MiB, which would take seconds.
_MASKED_UP_TO: Final = 16 * 1024


def decode_error_body(raw: bytes) -> Any:
    """Decode an error body: JSON when it parses, else the text (``""`` when empty).

    Every string in it (keys too) has the token of every live client masked, a piece
    of it cut short too (and, in JSON, one written with escapes: it is masked decoded),
    as the error quotes them. Not in a body longer than :data:`_MASKED_UP_TO`
    characters: its bytes had the whole token masked, and the error's message is
    masked in full anyway.
    """
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return ""
    redactors = list(KNOWN.values()) if len(text) <= _MASKED_UP_TO else []
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # nested deeper than the stack: kept as text
        return mask_known(text, redactors)
    return _masked_strings(body, redactors) if redactors else body


def _masked_strings(body: Any, redactors: list[Redactor]) -> Any:
    """``body`` (decoded JSON, ours to change) with each string masked by ``redactors``."""
    if isinstance(body, str):
        return mask_known(body, redactors)
    pending = [body]  # a loop, not recursion: JSON may nest deeper than the stack
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = mask_known(item, redactors)
                elif isinstance(item, (dict, list)):
                    pending.append(item)
        elif isinstance(node, dict):
            for key, item in list(node.items()):
                if isinstance(item, str):
                    item = node[key] = mask_known(item, redactors)
                elif isinstance(item, (dict, list)):
                    pending.append(item)
                if isinstance(key, str) and (shown := mask_known(key, redactors)) != key:
                    del node[key]
                    while shown in node:  # another key masks the same: keep both values
                        shown += "*"
                    node[shown] = item
    return body


def _shorten(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > _MAX_DETAIL_CHARS:
        return text[: _MAX_DETAIL_CHARS - 3] + "..."
    return text


#: Where a FastAPI-style ``loc`` starts with the request part, that part is dropped.
_REQUEST_PARTS = frozenset({"body", "query", "path", "header"})


#: The keys of a flat layout issue that locate it, and every key :class:`LayoutIssue` models.
_LAYOUT_INDICES = frozenset({"page", "row", "column", "item"})
_ISSUE_KEYS = _LAYOUT_INDICES | {"type", "field", "message"}


def _index(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _issue(entry: Mapping[str, Any]) -> LayoutIssue:
    """One layout issue; a value of the wrong type reads as ``None`` (``body`` has it)."""
    # Imported here: the models load only when used (a plain client imports none).
    from .models.layout_issues import LayoutIssue

    return LayoutIssue(
        message=_text(entry.get("message")) or "",
        page=_index(entry.get("page")),
        row=_index(entry.get("row")),
        column=_index(entry.get("column")),
        item=_index(entry.get("item")),
        type=_text(entry.get("type")),
        field=_text(entry.get("field")),
        extra={key: value for key, value in entry.items() if key not in _ISSUE_KEYS},
    )


def layout_issues(body: Any) -> tuple[LayoutIssue, ...]:
    """The ``issues`` of a refused layout's body (flat, or inside ``error``), if any.

    Read whatever the status (the API answers ``INVALID_BATCH_ITEMS`` with 422, and
    with 400 on some endpoints); a body whose ``type`` names another error has none.

    Never raises: an error body is read as far as it makes sense, entries that are not
    objects are skipped.
    """
    if not isinstance(body, dict):
        return ()
    kind = body.get("type")
    if isinstance(kind, str) and kind != "INVALID_BATCH_ITEMS":
        return ()
    issues = body.get("issues")
    nested = body.get("error")
    if not isinstance(issues, list) and isinstance(nested, dict):
        issues = nested.get("issues")
    if not isinstance(issues, list):
        return ()
    return tuple(_issue(entry) for entry in issues if isinstance(entry, dict))


def _compact(value: Any, depth: int = 0) -> str:
    """``value`` as :func:`json.dumps` writes it, with what lies deeper than the bound as "…"."""
    if depth >= _MAX_DETAIL_DEPTH:
        return "…"
    if isinstance(value, list):
        return "[" + ", ".join(_compact(item, depth + 1) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(str(k))}: {_compact(v, depth + 1)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return json.dumps(value)


def _plain(value: Any) -> str:
    """A location part as text: a nested value bounded like the rest of the body."""
    return _compact(value, 1) if isinstance(value, list | dict) else str(value)


def _format_location(loc: Any) -> str:
    """``["body", "batch_items", 0, "rows", 1]`` -> ``batch_items[0].rows[1]``."""
    if not isinstance(loc, list | tuple):
        return _plain(loc)
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _REQUEST_PARTS:
        parts = parts[1:]
    text = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{_plain(part)}" if text else _plain(part)
    return text or "$"


def _layout_location(issue: Mapping[str, Any]) -> str | None:
    """Where a flat layout issue is, or ``None`` if it names no page, row, column or item.

    ``batch_items[0].rows[1].columns[0].items[2] (dataset_field "prompt")``.
    """
    if not _LAYOUT_INDICES.intersection(issue):
        return None
    parsed = _issue(issue)
    what = " ".join(filter(None, (parsed.type, f'"{parsed.field}"' if parsed.field else None)))
    return f"{parsed.location} ({what})" if what else parsed.location


def _format_issue(issue: Mapping[str, Any]) -> str | None:
    """One validation issue as ``location: message``; ``None`` if it is not one."""
    message = issue.get("msg", issue.get("message"))
    if not isinstance(message, str):
        return None
    where = _format_location(issue["loc"]) if "loc" in issue else _layout_location(issue)
    return f"{where}: {message}" if where else message


def _format_detail(detail: Any, depth: int = 0) -> str:
    """A ``detail`` (or ``message``, ``issues``...) in one line, read to a bounded depth."""
    if isinstance(detail, str):
        return detail
    if depth >= _MAX_DETAIL_DEPTH:
        return "…"
    if isinstance(detail, list):
        return "; ".join(_format_detail(item, depth + 1) for item in detail)
    if isinstance(detail, dict):
        issue = _format_issue(detail)
        if issue is not None:
            return issue
        return "; ".join(
            f"{key}: {_format_detail(value, depth + 1)}" for key, value in detail.items()
        )
    return json.dumps(detail)


def _summarise(body: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    parts = [_format_detail(body[key]) for key in keys if body.get(key)]
    if body.get("issues"):
        if not parts and body.get("type"):
            parts.append(_plain(body["type"]))
        parts.append(_format_detail(body["issues"]))
    return parts


def describe_error_body(body: Any) -> str:
    """Summarise a server error body in one line.

    Prolific uses a nested ``{"error": {"title", "detail", ...}}`` body on most
    endpoints and a flat ``{"message", "detail"}`` on some; anything else (HTML from a
    proxy, plain text) is shown shortened. Validation issues, whether FastAPI-style
    ``{"loc", "msg"}`` entries in ``detail`` (``batch_items[0].rows[1].options: message``)
    or the layout's flat ``issues`` (``{"page", "row", "column", "item", "type", "field",
    "message"}``: ``batch_items[0].rows[1].columns[0].items[2] (dataset_field "prompt"):
    message``), are shown with their location.
    """
    if isinstance(body, dict):
        nested = body.get("error")
        if isinstance(nested, dict):
            parts = _summarise(nested, ("title", "detail", "additional_information"))
            if parts:
                return _shorten(": ".join(parts))
        elif isinstance(nested, str) and nested:
            return _shorten(nested)
        parts = _summarise(body, ("message", "detail"))
        if parts:
            return _shorten(": ".join(parts))
        return _shorten(_compact(body))
    if isinstance(body, str):
        if not body:
            return "empty body"
        title = re.search(r"<title[^>]*>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
        if title:
            return f"HTML page: {_shorten(title.group(1))}"
        if body.lstrip().startswith("<"):
            return f"HTML page: {_shorten(re.sub(r'<[^>]+>', ' ', body))}"
        return _shorten(body)
    return _shorten(_compact(body))
