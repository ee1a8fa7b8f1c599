"""The answers a bulk send does not take at their word, and the errors that say why.

A 201 naming a batch this run already holds, or one of another workspace, or of another
name made well before the send, is not proof of what the send made: the sender lists
the workspace instead (:mod:`._bulk_send`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from ._json import shortened_repr
from ._match_key import MatchKey
from .errors import APIConnectionError, OutcomeUnknownError, ResponseValidationError
from .models.batches import Batch

__all__ = [
    "FOREIGN_AGE",
    "claimed_answer",
    "foreign_answer",
    "is_foreign",
    "not_made",
]


def claimed_answer(index: int, batch_id: str, url: str) -> ResponseValidationError:
    """A 2xx naming a batch this run already holds: which batch the send made is unknown."""
    return ResponseValidationError(
        f"the server answered request {index} with batch {shortened_repr(batch_id)}, "
        "which this run already holds for another request (or is a duplicate's source): "
        "the batch this request made, if any, is unknown, so the workspace is listed to "
        "find it",
        status_code=201,
        method="POST",
        url=url,
        errors=[f"$.id: {shortened_repr(batch_id)} is already claimed"],
    )


#: How much older than the send a batch answered with another name must be to be
#: another's: a server may store a name changed (trimmed, normalised), and a batch it
#: just made is this request's; the margin covers the server's clock running behind.
FOREIGN_AGE: Final = timedelta(minutes=2)


def is_foreign(batch: Batch, key: MatchKey, sent_at: datetime | None) -> bool:
    """Whether a created answer names a batch this request cannot have made.

    Another workspace always; another name only for a batch made well before the send
    (a proxy's cached answer, a server's bug), never for one made just now: resending
    on a name the server rewrote would make a batch on every send.
    """
    if batch.workspace_id != key.workspace_id:
        return True
    if batch.name == key.name or sent_at is None:
        return False
    made = batch.created_at
    if made.tzinfo is None:
        made = made.replace(tzinfo=UTC)  # a time without a zone: the API's are in UTC
    return made < sent_at - FOREIGN_AGE


def foreign_answer(index: int, batch: Batch, key: MatchKey, url: str) -> ResponseValidationError:
    """A 2xx naming a batch of another name or workspace: not the batch this request made."""
    return ResponseValidationError(
        f"the server answered request {index} with batch {shortened_repr(batch.id)} "
        f"named {shortened_repr(batch.name)} in workspace "
        f"{shortened_repr(batch.workspace_id)}, not the batch requested "
        f"({shortened_repr(key.name)} in {shortened_repr(key.workspace_id)}): the batch "
        "this request made, if any, is unknown, so the workspace is listed to find it",
        status_code=201,
        method="POST",
        url=url,
        errors=[
            f"$.name, $.workspace_id: not {shortened_repr(key.name)} in "
            f"{shortened_repr(key.workspace_id)}"
        ],
    )


def not_made(sends: int, error: OutcomeUnknownError) -> APIConnectionError:
    """The last send's fate was unknown, and the listing after it shows no batch."""
    return APIConnectionError(
        f"{error} The request was sent {sends} time(s), the connection failed each "
        "time, and the workspace's listing after the last send shows no batch for it: "
        "nothing was made, unless the server stored its name changed in a way the client "
        "cannot recognise (then each send may have made one: look in the workspace "
        "before a re-run, which lists for it once more, then sends it again).",
        method=error.method,
        url=error.url,
    )
