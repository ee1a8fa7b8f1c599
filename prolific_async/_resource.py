"""Base of the resource classes (``client.batches`` ...) and safe path building."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from ._client import ProlificClient

__all__ = ["Resource", "path_id"]


def path_id(value: object, name: str) -> str:
    """Validate an id and percent-quote it as one path segment.

    Every character outside the unreserved set is quoted (``/`` included), and ``.``
    and ``..`` are refused, so no id can address another endpoint.

    Raises:
        ValueError: the id is not a non-empty string, or is ``.`` or ``..``.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if value in (".", ".."):
        raise ValueError(f"{name} must not be {value!r}: it would change the request path")
    return quote(value, safe="")


class Resource:
    """A group of API methods sharing one client (``client.batches``)."""

    def __init__(self, client: ProlificClient) -> None:
        self._client = client
