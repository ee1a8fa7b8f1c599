"""A batch's name as a server may have stored it: what a rewritten name is compared by.

A server may store a name otherwise than it was sent: trimmed, its spaces collapsed,
NFKC-normalised, HTML-escaped, or cut short to a column's length. Reconciliation must
then see the batch as a look-alike of the request (never resent on), not a stranger.
"""

from __future__ import annotations

import html
import unicodedata
from typing import Final

__all__ = ["COLUMN_LENGTHS", "as_stored", "stored_forms"]

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


def stored_forms(sent: str) -> frozenset[str]:
    """Every folded name the name ``sent`` may be listed under (:func:`as_stored`'s form).

    Itself folded, and cut to each of :data:`COLUMN_LENGTHS`, in characters or in UTF-8
    bytes, after the server rewrote it or before: as sent, trimmed or its spaces
    collapsed, each as is or NFKC-normalised, each as is or HTML-escaped (with or without
    its quotes). A name that merely begins it is not one: "... part 1" is a name of its
    own beside "... part 10". A cut of nothing but spaces names nothing; the name itself,
    even one that folds to nothing ("&nbsp;"), is always a form.

    Costly for a long name (hundreds of cuts): :attr:`MatchKey.name_forms` keeps a key's.
    """
    plain = {sent, sent.strip(), " ".join(sent.split())}
    plain |= {unicodedata.normalize("NFKC", form) for form in plain}
    rewritten = set(plain)
    for form in plain:
        rewritten |= {html.escape(form, quote=False), html.escape(form)}
    cuts: set[str] = set()
    for form in rewritten:
        raw = form.encode("utf-8", "surrogatepass")
        for length in COLUMN_LENGTHS:
            if len(raw) <= length:
                break  # the lengths ascend, and no form has more characters than bytes
            if len(form) > length:
                cuts.add(as_stored(form[:length]))
            if len(raw) != len(form):  # ASCII: its byte cuts are its character cuts
                cuts.add(as_stored(raw[:length].decode("utf-8", "ignore")))
    cuts.discard("")  # a cut of nothing but spaces: no name to match by
    return frozenset({as_stored(sent), *map(as_stored, rewritten), *cuts})
