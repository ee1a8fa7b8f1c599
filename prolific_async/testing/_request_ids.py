"""A request id on every answer of the emulator, as an API gateway adds one.

Prolific's spec documents no request-id header; the emulator sends ``X-Request-Id``
(the most common spelling, and the client's first choice), so a test can see the id
reach an error, a raw response, a log line or a bulk result. It is stamped as the
answer's headers are prepared, so fault answers, streamed and cut ones carry it too;
a fault whose ``headers`` set one keeps its own.
"""

from __future__ import annotations

import secrets
from typing import Final

from aiohttp import web

__all__ = ["REQUEST_ID_HEADER", "install_request_ids"]

REQUEST_ID_HEADER: Final = "X-Request-Id"


async def _stamp(_: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault(REQUEST_ID_HEADER, f"req_{secrets.token_hex(12)}")


def install_request_ids(app: web.Application) -> None:
    """Give every answer ``app`` prepares an ``X-Request-Id`` (unless it has one)."""
    app.on_response_prepare.append(_stamp)
