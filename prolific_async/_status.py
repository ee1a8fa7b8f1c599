"""Turning non-2xx responses into :mod:`prolific_async.errors` exceptions."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

#: Response headers that may carry a request id, in order of preference.
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid")
_MAX_DETAIL_CHARS = 500

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """Return the :class:`APIStatusError` subclass for an HTTP status."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


def decode_error_body(raw: bytes) -> Any:
    """Decode an error body: JSON when it parses, else the text (``""`` when empty)."""
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return ""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _shorten(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > _MAX_DETAIL_CHARS:
        return text[: _MAX_DETAIL_CHARS - 3] + "..."
    return text


def _format_detail(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(_format_detail(item) for item in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_format_detail(value)}" for key, value in detail.items())
    return json.dumps(detail)


def describe_error_body(body: Any) -> str:
    """Summarise a server error body in one line.

    Prolific uses a nested ``{"error": {"title", "detail", ...}}`` body on most
    endpoints and a flat ``{"message", "detail"}`` on some; anything else (HTML from a
    proxy, plain text) is shown shortened.
    """
    if isinstance(body, dict):
        nested = body.get("error")
        if isinstance(nested, dict):
            parts = [
                _format_detail(nested[key])
                for key in ("title", "detail", "additional_information")
                if nested.get(key)
            ]
            if parts:
                return _shorten(": ".join(parts))
        elif isinstance(nested, str) and nested:
            return _shorten(nested)
        parts = [_format_detail(body[key]) for key in ("message", "detail") if body.get(key)]
        if parts:
            return _shorten(": ".join(parts))
        return _shorten(json.dumps(body))
    if isinstance(body, str):
        if not body:
            return "empty body"
        title = re.search(r"<title[^>]*>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
        if title:
            return f"HTML page: {_shorten(title.group(1))}"
        if body.lstrip().startswith("<"):
            return f"HTML page: {_shorten(re.sub(r'<[^>]+>', ' ', body))}"
        return _shorten(body)
    return _shorten(json.dumps(body))


def make_status_error(
    *,
    status_code: int,
    reason: str | None,
    raw_body: bytes,
    headers: Mapping[str, str],
    method: str,
    url: str,
) -> APIStatusError:
    """Build the :class:`APIStatusError` subclass for one non-2xx response."""
    body = decode_error_body(raw_body)
    lowered = {key.lower(): value for key, value in headers.items()}
    request_id = next((lowered[name] for name in REQUEST_ID_HEADERS if name in lowered), None)
    status_text = f"{status_code} {reason}" if reason else str(status_code)
    message = f"{method} {url} failed with {status_text}: {describe_error_body(body)}"
    if request_id:
        message += f" (request id {request_id})"
    return status_error_class(status_code)(
        message,
        status_code=status_code,
        body=body,
        request_id=request_id,
        method=method,
        url=url,
        headers=headers,
    )
