"""The one redactor: the client's own token never reaches an exception, a repr or a log.

A server (or a proxy in front of it) may echo the ``Authorization`` header it got, in an
error body, a header or a message. The token never expires and has full account rights,
so everything the client builds from an answer passes through :class:`Redactor` first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from multidict import CIMultiDict

__all__ = ["MASK", "Redactor"]

MASK: Final = "***"
#: A secret at least this long is masked wherever it appears; a shorter one (a test's
#: ``"t"``) only as the header value it was sent in, or every letter would be masked.
BARE_MINIMUM: Final = 8


class Redactor:
    """Replaces one secret, wherever it appears, with :data:`MASK`."""

    def __init__(self, secret: str) -> None:
        self._text = secret if len(secret) >= BARE_MINIMUM else f"Token {secret}"
        self._bytes = self._text.encode()

    def __repr__(self) -> str:
        return "<Redactor>"

    def text(self, value: str) -> str:
        """``value`` with the secret masked."""
        return value.replace(self._text, MASK) if self._text in value else value

    def data(self, raw: bytes) -> bytes:
        """Raw bytes (a body) with the secret masked."""
        return raw.replace(self._bytes, MASK.encode()) if self._bytes in raw else raw

    def headers(self, headers: Mapping[str, str]) -> CIMultiDict[str]:
        """A copy of ``headers`` with the secret masked in every value."""
        return CIMultiDict((key, self.text(value)) for key, value in headers.items())
