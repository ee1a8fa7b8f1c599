"""One listing of a workspace's batches, as the API answered it, and whether it is whole.

``batches.list`` returns the batches; reconciliation needs more: whether the answer
says it holds every batch. The list endpoint takes only ``workspace_id`` and documents
no paging, so an answer that says it is partial (``meta.count`` above its results, or
a ``next`` link) has no page to follow: reconciliation must not read it as "not made".

Reconciliation reads a :class:`RawListing`: its items stay JSON objects, and only those
of a match key's workspace whose name is the key's, or may be it as the server stored
it, are structured into batches (:meth:`RawListing.matching`), since no other batch can
match it. Listing a workspace of
50,000 batches then costs the JSON parse, not 50,000 batch models.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from ._body import structure_response
from ._json import shortened_repr
from ._names import as_stored
from ._paths import BATCHES_PATH
from .models.batches import Batch

if TYPE_CHECKING:
    from ._base_client import BaseClient
    from ._match_key import MatchKey

__all__ = ["BatchListing", "RawListing", "fetch_batch_listing", "fetch_listing"]


def _incomplete(
    results: builtins.list[Any], meta: dict[str, Any] | None, link: str | None
) -> str | None:
    meta = meta or {}
    count = meta.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        # Not a count: the answer cannot be known to hold the whole workspace.
        return f"meta.count is {shortened_repr(count)}, not a whole number of batches"
    if count is not None and count > len(results):
        return f"meta.count is {count} but it holds {len(results)} batches"
    link = link or meta.get("next")
    if link:
        return f"it links to more results ({shortened_repr(link)})"
    return None


@frozen(kw_only=True)
class BatchListing:
    """The List Batches envelope. ``results`` must be an array, even an empty one.

    Stricter than the spec (which marks it optional) on purpose: reconciliation lists
    the workspace, and an answer of another shape read as "no batches" would make a
    batch again. A missing or ``null`` ``results``, a bare array or another envelope is
    a :class:`ResponseValidationError`.
    """

    results: builtins.list[Batch]
    meta: dict[str, Any] | None = None
    next: str | None = None
    """A link to more results, if the server sent one (the endpoint documents none)."""

    @property
    def incomplete(self) -> str | None:
        """Why this answer does not hold the whole workspace, or ``None`` if it does."""
        return _incomplete(self.results, self.meta, self.next)


#: Each item's folded name in a raw listing, and the places of its items that are not
#: objects.
_Index = tuple[list[str | None], list[int]]


@frozen(kw_only=True)
class RawListing:
    """The List Batches envelope with its items left as JSON: what reconciliation reads.

    The envelope is checked as :class:`BatchListing`'s; an item is checked (and
    structured) only when :meth:`matching` picks it.
    """

    results: builtins.list[Any]
    meta: dict[str, Any] | None = None
    next: str | None = None
    url: str = ""
    """Where the listing came from, for the message of an item that does not fit."""
    _index: builtins.list[_Index] = field(factory=list, init=False, eq=False, repr=False)

    @property
    def incomplete(self) -> str | None:
        """Why this answer does not hold the whole workspace, or ``None`` if it does."""
        return _incomplete(self.results, self.meta, self.next)

    def _names(self) -> _Index:
        """Each item's name folded (``None``: none to fold), and where the non-objects are.

        Made on first use and kept: one listing serves every key that waits for it, and
        folding 50,000 names takes some 25 ms (each key then takes a few ms).
        """
        if not self._index:
            folded: builtins.list[str | None] = []
            odd: builtins.list[int] = []
            for place, item in enumerate(self.results):
                name = item.get("name") if item.__class__ is dict else None
                if name.__class__ is str:
                    form = as_stored(name)
                    folded.append(name if form == name else form)  # the same: no second copy
                else:
                    folded.append(None)
                    if item.__class__ is not dict:
                        odd.append(place)  # not an object: structuring says so
            self._index.append((folded, odd))
        return self._index[0]

    def matching(self, key: MatchKey) -> builtins.list[Batch]:
        """The listed batches of ``key``'s workspace named as it, or as stored (all it can match).

        Raises:
            ResponseValidationError: one of them does not fit :class:`Batch` (its path is
                its place among the picked items).
        """
        folded, odd = self._names()
        forms, workspace, results = key.name_forms, key.workspace_id, self.results
        places = [
            place
            for place, form in enumerate(folded)
            if form in forms and results[place].get("workspace_id") == workspace
        ]
        picked = [self.results[place] for place in sorted({*places, *odd})]
        return structure_response(
            picked, builtins.list[Batch], status_code=200, method="GET", url=self.url
        )


async def fetch_listing(client: BaseClient, workspace_id: str) -> RawListing:
    """``GET /batches?workspace_id=``: the listing with its ``meta``, items left as JSON.

    Raises:
        ResponseValidationError: the answer has no ``results`` array.
    """
    params = {"workspace_id": workspace_id}
    listing = await client.get(
        BATCHES_PATH, cast_to=RawListing, params=params, template=BATCHES_PATH
    )
    url = f"{client.base_url}{BATCHES_PATH}?workspace_id={workspace_id}"
    return RawListing(results=listing.results, meta=listing.meta, next=listing.next, url=url)


async def fetch_batch_listing(client: BaseClient, workspace_id: str) -> BatchListing:
    """``GET /batches?workspace_id=``: the listing with its ``meta``, every batch read.

    Raises:
        ResponseValidationError: the answer has no ``results`` array, or a batch does
            not fit.
    """
    params = {"workspace_id": workspace_id}
    return await client.get(
        BATCHES_PATH, cast_to=BatchListing, params=params, template=BATCHES_PATH
    )
