"""Error answers: Prolific's nested error body, its status phrases and codes, and APIError.

The body is ``{"error": {"status", "error_code", "title", "detail"}}``, as the real API
answers, except where an endpoint answers a flat body of its own (a layout's 422, see
:mod:`._layout_issues`): :class:`APIError` carries that ``body`` as is.

The ``title`` (and the reason phrase of the status line) comes from a fixed table, not
from :class:`http.HTTPStatus`, whose phrases change between Python versions (3.13 says
"Unprocessable Content" for 422): the emulator answers the same bytes on every Python,
with the phrases of Python 3.11.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

__all__ = [
    "STATUS_PHRASES",
    "APIError",
    "error_body",
    "error_code",
    "error_response",
    "status_phrase",
]

#: The reason phrase of every status from 200 up that Python 3.11's HTTPStatus names.
STATUS_PHRASES: Final[Mapping[int, str]] = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a Teapot",
    421: "Misdirected Request",
    422: "Unprocessable Entity",
    423: "Locked",
    424: "Failed Dependency",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required",
}


def status_phrase(status: int) -> str:
    """The reason phrase of an HTTP status ("Bad Request"), or "Error" for an unlisted one."""
    return STATUS_PHRASES.get(status, "Error")


def error_code(status: int) -> int:
    """Return the ``error_code`` the emulator sends with a status.

    Prolific's internal codes are not published; the one documented example pairs 400
    with 140100, so 4xx statuses map to ``140100 + (status - 400)`` and 5xx statuses to
    ``140500 + (status - 500)``.
    """
    base, first = (140500, 500) if status >= 500 else (140100, 400)
    return base + status - first


def error_body(status: int, detail: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build Prolific's nested error body: ``{"error": {status, error_code, title, detail}}``.

    ``extra`` keys (a layout error's ``type``) go between ``title`` and ``detail``.
    """
    error: dict[str, Any] = {
        "status": status,
        "error_code": error_code(status),
        "title": status_phrase(status),
    }
    error.update(extra or {})
    error["detail"] = detail
    return {"error": error}


def error_response(
    status: int,
    detail: object,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> web.Response:
    """Answer with Prolific's nested error body (``extra`` keys added to the error object)."""
    return web.json_response(
        error_body(status, detail, extra),
        status=status,
        reason=status_phrase(status),
        headers=headers,
    )


class APIError(Exception):
    """An error answer: raised by the operations, rendered by the request pipeline.

    Attributes:
        status: the HTTP status to answer with.
        detail: the ``detail`` of the error body (a string or ``{field: [messages]}``).
        extra: more keys of the error object, e.g. ``{"status_code": ...}``.
        body: the whole body to answer instead of the nested one, when not ``None``.
    """

    def __init__(
        self,
        status: int,
        detail: Any,
        extra: Mapping[str, Any] | None = None,
        *,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.extra = dict(extra or {})
        self.body = body

    def response(self) -> web.Response:
        """The answer: the nested error body, or :attr:`body` as given."""
        if self.body is None:
            return error_response(self.status, self.detail, extra=self.extra)
        return web.json_response(
            dict(self.body), status=self.status, reason=status_phrase(self.status)
        )
