"""A batch's name as a server may have stored it: what a rewritten name is compared by.

A server may store a name otherwise than it was sent: trimmed, its spaces collapsed,
NFKC-normalised, HTML-escaped, or cut short to a column's length. Reconciliation must
then see the batch as a look-alike of the request (never resent on), not a stranger.
"""

from __future__ import annotations

import html
import unicodedata
from typing import Final

__all__ = ["TRUNCATED_AT_LEAST", "as_stored", "stored_alike"]

#: A stored name at least this long that begins the name sent may be it cut short (a
#: column's length); a shorter one is a name of its own ("Batch 1" begins "Batch 10").
TRUNCATED_AT_LEAST: Final = 64


def as_stored(name: str) -> str:
    """``name`` folded as a server may store it: unescaped, NFKC, trimmed, case folded."""
    return " ".join(unicodedata.normalize("NFKC", html.unescape(name)).split()).casefold()


def stored_alike(listed: str, sent_as_stored: str) -> bool:
    """Whether ``listed`` may be the name sent (folded by :func:`as_stored`) as stored.

    Folded alike, or folded to at least :data:`TRUNCATED_AT_LEAST` characters that begin it.
    """
    folded = as_stored(listed)
    return folded == sent_as_stored or (
        len(folded) >= TRUNCATED_AT_LEAST and sent_as_stored.startswith(folded)
    )
