"""A batch's name as a server may have stored it: what a rewritten name is compared by.

A server may store a name otherwise than it was sent: trimmed, its spaces collapsed,
NFKC-normalised, HTML-escaped, or cut short to a column's length. Reconciliation must
then see the batch as a look-alike of the request (never resent on), not a stranger.
"""

from __future__ import annotations

import html
import unicodedata
from typing import Final

__all__ = ["COLUMN_LENGTHS", "as_stored", "cut_short", "stored_alike"]

#: The lengths (in characters) a server may cut a name to, a column's: a listed name of
#: one of them that begins the name sent may be it cut short. A name of another length
#: that begins it is a name of its own ("... part 1" begins "... part 10").
COLUMN_LENGTHS: Final = frozenset({64, 100, 128, 150, 200, 250, 255, 256, 500, 512, 1000, 1024})


def as_stored(name: str) -> str:
    """``name`` folded as a server may store it: unescaped, NFKC, trimmed, spaces collapsed.

    Heuristic, both ways: another rewriting (a cut inside an escape, or with "..."
    added) is not folded away, and two names that differ only in spacing, or in an
    ``&`` that reads as an entity, fold alike. Case is kept: a server that changed it
    would be rare, and "Batch 1" and "batch 1" of one run must stay two names.
    """
    return " ".join(unicodedata.normalize("NFKC", html.unescape(name)).split())


def cut_short(listed: str, folded: str, sent_as_stored: str) -> bool:
    """Whether ``listed`` (folded: ``folded``) may be the name sent cut to a column's length."""
    return (
        len(listed) in COLUMN_LENGTHS
        and folded != sent_as_stored
        and sent_as_stored.startswith(folded)
    )


def stored_alike(listed: str, sent_as_stored: str) -> bool:
    """Whether ``listed`` may be the name sent (folded by :func:`as_stored`) as stored.

    Folded alike, or cut short to one of :data:`COLUMN_LENGTHS`.
    """
    folded = as_stored(listed)
    return folded == sent_as_stored or cut_short(listed, folded, sent_as_stored)
