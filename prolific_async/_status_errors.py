"""Turning what went wrong with a request into a :mod:`prolific_async.errors` exception.

Non-2xx answers become the :class:`APIStatusError` subclass for their status; aiohttp's
exceptions and the call's deadline become :class:`APIConnectionError` and its subclasses,
chosen by :mod:`prolific_async._outcome` (whether the request may have taken effect).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import aiohttp

from ._call import CallState, ClientClosingError
from ._outcome import IDEMPOTENT_METHODS, Outcome, exception_outcome
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ProlificError,
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


#: Where a FastAPI-style ``loc`` starts with the request part, that part is dropped.
_REQUEST_PARTS = frozenset({"body", "query", "path", "header"})
#: The layout levels of a batch_items validation issue, outermost first.
_LAYOUT_LEVELS = (("page", ""), ("row", "rows"), ("column", "columns"), ("item", "items"))


def _format_location(loc: Any) -> str:
    """``["body", "batch_items", 0, "rows", 1]`` -> ``batch_items[0].rows[1]``."""
    if not isinstance(loc, list | tuple):
        return str(loc)
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _REQUEST_PARTS:
        parts = parts[1:]
    text = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "$"


def _layout_location(issue: Mapping[str, Any]) -> str | None:
    """The path of a ``{"page", "row", "column", "item", "field"}`` issue, if it is one."""
    if not any(level in issue for level, _ in _LAYOUT_LEVELS):
        return None
    text = "batch_items"
    for level, name in _LAYOUT_LEVELS:
        index = issue.get(level)
        if isinstance(index, int) and not isinstance(index, bool):
            text += f"{'.' + name if name else ''}[{index}]"
    if isinstance(issue.get("field"), str) and issue["field"]:
        text += f".{issue['field']}"
    if isinstance(issue.get("type"), str) and issue["type"]:
        text += f" ({issue['type']})"
    return text


def _format_issue(issue: Mapping[str, Any]) -> str | None:
    """One validation issue as ``location: message``; ``None`` if it is not one."""
    message = issue.get("msg", issue.get("message"))
    if not isinstance(message, str):
        return None
    where = _format_location(issue["loc"]) if "loc" in issue else _layout_location(issue)
    return f"{where}: {message}" if where else message


def _format_detail(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(_format_detail(item) for item in detail)
    if isinstance(detail, dict):
        issue = _format_issue(detail)
        if issue is not None:
            return issue
        return "; ".join(f"{key}: {_format_detail(value)}" for key, value in detail.items())
    return json.dumps(detail)


def _summarise(body: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    parts = [_format_detail(body[key]) for key in keys if body.get(key)]
    if body.get("issues"):
        if not parts and body.get("type"):
            parts.append(f"{body['type']}")
        parts.append(_format_detail(body["issues"]))
    return parts


def describe_error_body(body: Any) -> str:
    """Summarise a server error body in one line.

    Prolific uses a nested ``{"error": {"title", "detail", ...}}`` body on most
    endpoints and a flat ``{"message", "detail"}`` on some; anything else (HTML from a
    proxy, plain text) is shown shortened. Validation issues, whether FastAPI-style
    ``{"loc", "msg"}`` entries in ``detail`` or the layout's ``issues`` list
    (``{"page", "row", "column", "item", "field", "message"}``), are shown with their
    location, ``batch_items[0].rows[1].columns[0].items[2].options: message``.
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


def _may_have_acted(method: str, outcome: Outcome) -> bool:
    """A non-idempotent request that may have reached the server: its fate is unknown."""
    return outcome is Outcome.MAYBE_APPLIED and method not in IDEMPOTENT_METHODS


def closed_error(method: str = "", url: str = "", state: CallState | None = None) -> ProlificError:
    """The error for a call that the client's ``aclose()`` cut short (or came after it)."""
    outcome = exception_outcome(
        ClientClosingError(), maybe_sent=state is not None and state.maybe_sent
    )
    if _may_have_acted(method, outcome):
        return OutcomeUnknownError(
            f"{method} {url}: the client was closed while the request may have reached "
            "the server; check whether it took effect before sending it again.",
            method=method,
            url=url,
        )
    return ClientClosedError("This ProlificClient was closed with aclose(); create a new one.")


def connection_error(
    exc: aiohttp.ClientError, method: str, url: str, state: CallState, *, closed: bool
) -> ProlificError:
    """The error for a call whose last attempt raised ``exc`` (no HTTP answer)."""
    if closed or isinstance(exc, ClientClosingError):
        failure: ProlificError = closed_error(method, url, state)
        failure.__cause__ = exc
        return failure
    attempts = f"after {state.sent} attempt{'s' if state.sent != 1 else ''}"
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    outcome = exception_outcome(exc)
    if outcome is Outcome.NOT_SENT:
        cls = (
            APITimeoutError
            if isinstance(exc, aiohttp.ConnectionTimeoutError)
            else APIConnectionError
        )
        failure = cls(
            f"{method} {url}: could not connect {attempts} ({detail}); the request was not sent",
            method=method,
            url=url,
        )
    elif _may_have_acted(method, outcome):
        failure = OutcomeUnknownError(
            f"{method} {url}: the connection failed after the request may have reached "
            f"the server ({detail}). It was not retried, because repeating it could "
            "create a duplicate: check whether it took effect before sending it again.",
            method=method,
            url=url,
        )
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        failure = APITimeoutError(
            f"{method} {url}: timed out reading the response {attempts} ({detail})",
            method=method,
            url=url,
        )
    else:
        failure = APIConnectionError(
            f"{method} {url}: connection failed {attempts} ({detail})", method=method, url=url
        )
    if not isinstance(exc, aiohttp.ClientResponseError):  # those carry our headers
        failure.__cause__ = exc
    return failure


def deadline_error(
    exc: TimeoutError, method: str, url: str, state: CallState, seconds: float
) -> APIConnectionError:
    """The error for a call that ran out of its whole deadline (``RetryPolicy.timeout``)."""
    failure: APIConnectionError
    if _may_have_acted(method, exception_outcome(exc, maybe_sent=state.maybe_sent)):
        failure = OutcomeUnknownError(
            f"{method} {url}: no answer within the call's {seconds:g}s deadline "
            "(RetryPolicy.timeout) after the request may have reached the server. It "
            "was not retried: check whether it took effect before sending it again.",
            method=method,
            url=url,
        )
    else:
        failure = APITimeoutError(
            f"{method} {url}: no answer within the call's {seconds:g}s deadline "
            f"(RetryPolicy.timeout), {state.sent} attempt(s)",
            method=method,
            url=url,
        )
    failure.__cause__ = exc
    return failure
