"""Bodies: what a request sends (JSON, or raw bytes), what a 2xx answer decodes to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from .errors import ResponseValidationError

__all__ = ["APIResponse", "RawBody", "body_arguments", "decode_json"]


@frozen
class RawBody:
    """A request body sent as these bytes with this ``Content-Type``, not as JSON.

    For the one endpoint that takes no JSON: appending datapoints takes JSON Lines.
    Bytes, so an attempt that may be resent sends exactly the same body.
    """

    content: bytes
    content_type: str


def body_arguments(body: Any, headers: Mapping[str, str]) -> dict[str, Any]:
    """The ``aiohttp`` request arguments that send ``body``: JSON, or a :class:`RawBody`."""
    if isinstance(body, RawBody):
        return {"data": body.content, "headers": {**headers, "Content-Type": body.content_type}}
    return {"json": body, "headers": headers}


@frozen
class APIResponse:
    """A decoded 2xx response; ``cast_to=APIResponse`` returns it as it is."""

    status: int
    """The HTTP status."""
    data: Any
    """The decoded JSON body (``None`` for an empty one)."""
    method: str
    """The request's method."""
    url: str
    """The request's URL."""
    sent: int
    """How many attempts the call sent (for a POST: how many POSTs it cost)."""


def decode_json(raw: bytes, status: int, method: str, url: str) -> Any:
    """The JSON body of a 2xx answer (``None`` when empty)."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        snippet = raw[:80].decode("utf-8", errors="replace")
        raise ResponseValidationError(
            f"{method} {url} returned {status} with a body that is not JSON: {snippet!r}",
            status_code=status,
            method=method,
            url=url,
            errors=["body is not JSON @ $"],
        ) from exc
