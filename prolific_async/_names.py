"""A batch's name as a server may have stored it: what a rewritten name is compared by.

A server may store a name otherwise than it was sent: trimmed, its spaces collapsed,
NFKC-normalised, HTML-escaped, or cut short to a column's length. Reconciliation must
then see the batch as a look-alike of the request (never resent on), not a stranger.
"""

from __future__ import annotations

import functools
import html
import unicodedata
from typing import Final

__all__ = ["COLUMN_LENGTHS", "as_stored", "stored_alike", "stored_forms"]

#: The lengths a server may cut a name to, a column's (in characters, or in UTF-8 bytes).
COLUMN_LENGTHS: Final = (64, 100, 128, 150, 200, 250, 255, 256, 500, 512, 1000, 1024)


def as_stored(name: str) -> str:
    """``name`` folded as a server may store it: unescaped, NFKC, trimmed, spaces collapsed.

    Heuristic, both ways: another rewriting (a cut with "..." added, a new case) is not
    folded away, and two names that differ only in spacing, or in an ``&`` that reads
    as an entity, fold alike. Case is kept: a server that changed it would be rare, and
    "Batch 1" and "batch 1" of one run must stay two names.
    """
    return " ".join(unicodedata.normalize("NFKC", html.unescape(name)).split())


@functools.lru_cache(maxsize=4096)  # a run's names, each asked for again and again
def stored_forms(sent: str) -> frozenset[str]:
    """Every folded name the name ``sent`` may be listed under (:func:`as_stored`'s form).

    Itself, and cut to each of :data:`COLUMN_LENGTHS` as it was sent, NFKC-normalised
    or HTML-escaped (the cut made before or after the server rewrote it), in characters
    or in UTF-8 bytes. A name that merely begins it is not one: "... part 1" is a name
    of its own beside "... part 10".
    """
    forms = {sent, unicodedata.normalize("NFKC", sent), html.escape(sent, quote=False)}
    folded = {as_stored(sent)}
    for form in forms:
        raw = form.encode("utf-8", "surrogatepass")
        for length in COLUMN_LENGTHS:
            if len(form) > length:
                folded.add(as_stored(form[:length]))
            if len(raw) > length:
                folded.add(as_stored(raw[:length].decode("utf-8", "ignore")))
    folded.discard("")  # a cut of nothing but spaces: no name to match by
    return frozenset(folded)


def stored_alike(listed: str, sent: str) -> bool:
    """Whether the listed name ``listed`` may be ``sent`` as the server stored it."""
    return as_stored(listed) in stored_forms(sent)
